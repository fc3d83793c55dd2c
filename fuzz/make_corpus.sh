#!/usr/bin/env bash
# Writes the seed corpus of the fuzz targets into fuzz/corpus/<target>/.
#
#   fuzz/make_corpus.sh
#
# Deterministic; rewrites only the files it names (seed-*), so inputs added by
# hand or minimized from a fuzzing run (other names) are kept. The layouts of
# the option bytes are described at the top of each target's .cpp file.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus

# --- request_parser_fuzz ---------------------------------------------------------
# Option bytes: flags, header_block_bytes, header_count, body_bytes, chunking
# scheme, seed. 0xff selects the default limit.
dir=$corpus/request_parser_fuzz
mkdir -p "$dir"

# req FILE OPTS BLOCK BODY
#   OPTS  six option bytes as printf escapes, e.g. '\x00\xff\xff\xff\x05\x07'
#   BLOCK the header block (printf escapes) with '|' standing for each NUL byte
#   BODY  printf-escaped bytes after the `,`
# The <len> prefix is computed from the block.
req() {
    local file=$1 opts=$2 block=$3 body=$4
    local len
    len=$(printf '%b' "$block" | wc -c)
    {
        printf '%b' "$opts"
        printf '%s:' "$len"
        printf '%b' "$block" | tr '|' '\000'
        printf ','
        printf '%b' "$body"
    } >"$dir/seed-$file"
}

# raw FILE OPTS BYTES: the request bytes exactly as given ('|' is NUL).
raw() {
    local file=$1 opts=$2 bytes=$3
    { printf '%b' "$opts"; printf '%b' "$bytes" | tr '|' '\000'; } >"$dir/seed-$file"
}

strict='\x00\xff\xff\xff\x05\x07'      # strict, default limits, 2-byte chunks
random='\x00\xff\xff\xff\x1e\x2a'      # strict, random chunks of 0..15 bytes
bytewise='\x00\xff\xff\xff\x00\x00'    # strict, one byte at a time

example='CONTENT_LENGTH|27|SCGI|1|REQUEST_METHOD|POST|REQUEST_URI|/deepthought|'
req protocol-example "$strict" "$example" 'What is the answer to life?'
req protocol-example-bytewise "$bytewise" "$example" 'What is the answer to life?'
req protocol-example-random-release '\x60\xff\xff\xff\x1e\x2a' "$example" 'What is the answer to life?'
req protocol-example-two-cuts '\x00\xff\xff\xff\x8b\x21' "$example" 'What is the answer to life?'
# Limits exactly at the example's sizes (70-byte block, 4 headers, 27-byte
# body) and one below each.
# nginx with scgi_request_buffering off: CONTENT_LENGTH is what nginx had
# read, HTTP_CONTENT_LENGTH the real length; strict refuses, the switch
# (flag bit 7) takes the forwarded length.
unbuffered='CONTENT_LENGTH|3|REQUEST_METHOD|POST|SCGI|1|HTTP_CONTENT_LENGTH|11|'
req nginx-unbuffered-strict "$random" "$unbuffered" 'hello world'
req nginx-unbuffered-lenient '\x80\xff\xff\xff\x1e\x2a' "$unbuffered" 'hello world'
req limit-block-exact '\x00\x46\xff\xff\x05\x07' "$example" 'What is the answer to life?'
req limit-block-over '\x00\x45\xff\xff\x05\x07' "$example" 'What is the answer to life?'
req limit-count-exact '\x00\xff\x04\xff\x05\x07' "$example" 'What is the answer to life?'
req limit-count-over '\x00\xff\x03\xff\x05\x07' "$example" 'What is the answer to life?'
req limit-body-exact '\x00\xff\xff\x1b\x05\x07' "$example" 'What is the answer to life?'
req limit-body-over '\x00\xff\xff\x1a\x05\x07' "$example" 'What is the answer to life?'

nginx_get='CONTENT_LENGTH|0|REQUEST_METHOD|GET|REQUEST_URI|/app/search?q=caf%C3%A9&page=2|QUERY_STRING|q=caf%C3%A9&page=2|CONTENT_TYPE||DOCUMENT_URI|/app/search|DOCUMENT_ROOT|/usr/share/nginx/html|SCGI|1|SERVER_PROTOCOL|HTTP/1.1|REQUEST_SCHEME|https|HTTPS|on|REMOTE_ADDR|203.0.113.7|REMOTE_PORT|51234|SERVER_PORT|443|SERVER_NAME|example.org|HTTP_HOST|example.org|HTTP_USER_AGENT|curl/8.5.0|HTTP_ACCEPT|*/*|'
req nginx-get "$random" "$nginx_get" ''
req nginx-get-trailing "$strict" "$nginx_get" 'GET / HTTP/1.1\r\n'

nginx_post='CONTENT_LENGTH|11|REQUEST_METHOD|POST|REQUEST_URI|/app/form|QUERY_STRING||CONTENT_TYPE|application/x-www-form-urlencoded|DOCUMENT_URI|/app/form|DOCUMENT_ROOT|/srv/www|SCGI|1|SERVER_PROTOCOL|HTTP/1.1|REQUEST_SCHEME|http|REMOTE_ADDR|::1|REMOTE_PORT|40000|SERVER_PORT|80|SERVER_NAME|localhost|HTTP_HOST|localhost|HTTP_TRANSFER_ENCODING|chunked|HTTP_CONTENT_TYPE|application/x-www-form-urlencoded|'
req nginx-post-chunked-upload "$random" "$nginx_post" 'a=1&b=%2B+x'
req nginx-post-partial-body "$strict" "$nginx_post" 'a=1&b'

nginx_noscgi='CONTENT_LENGTH|0|REQUEST_METHOD|GET|REQUEST_URI|/|QUERY_STRING||SERVER_PROTOCOL|HTTP/1.1|'
req nginx-without-scgi-params-strict "$strict" "$nginx_noscgi" ''
req nginx-without-scgi-params-lenient '\x01\xff\xff\xff\x05\x07' "$nginx_noscgi" ''

apache='CONTENT_LENGTH|5|SCGI|1|HTTP_HOST|example.org|HTTP_ACCEPT|text/html,application/xhtml+xml|HTTP_ACCEPT_LANGUAGE|en-US,en;q=0.5|HTTP_ACCEPT_ENCODING|gzip, deflate, br|HTTP_COOKIE|a=b; c=d|HTTP_X_FORWARDED_FOR|198.51.100.2|SERVER_SIGNATURE||SERVER_SOFTWARE|Apache/2.4.62 (Debian)|SERVER_NAME|example.org|SERVER_ADDR|127.0.0.1|SERVER_PORT|80|REMOTE_ADDR|198.51.100.2|DOCUMENT_ROOT|/var/www/html|REQUEST_SCHEME|http|CONTEXT_PREFIX||SERVER_ADMIN|webmaster@localhost|SCRIPT_FILENAME|proxy:scgi://127.0.0.1:4000/items/42|REMOTE_PORT|60110|SERVER_PROTOCOL|HTTP/1.1|REQUEST_METHOD|PUT|QUERY_STRING|x=%zz|REQUEST_URI|/app/items/42?x=%zz|SCRIPT_NAME|/app/items/42|'
req apache-put "$random" "$apache" 'hello'
apache_dup='CONTENT_LENGTH|0|SCGI|1|HTTP_COOKIE|a=1|REQUEST_METHOD|GET|HTTP_COOKIE|b=2|REQUEST_URI|/|'
req apache-duplicate-reject "$strict" "$apache_dup" ''
req apache-duplicate-first-wins '\x08\xff\xff\xff\x05\x07' "$apache_dup" ''
req apache-duplicate-last-wins '\x10\xff\xff\xff\x05\x07' "$apache_dup" ''
req duplicate-content-length '\x10\xff\xff\xff\x05\x07' 'CONTENT_LENGTH|0|SCGI|1|CONTENT_LENGTH|0|' ''

lighttpd='CONTENT_LENGTH|3|SERVER_SOFTWARE|lighttpd/1.4.76|SERVER_NAME|localhost|GATEWAY_INTERFACE|CGI/1.1|REQUEST_SCHEME|http|SERVER_PORT|8080|SERVER_ADDR|127.0.0.1|REMOTE_PORT|50312|REMOTE_ADDR|127.0.0.1|SCRIPT_NAME|/app|PATH_INFO|/x y|DOCUMENT_ROOT|/srv|REQUEST_URI|/app/x%20y|QUERY_STRING||REQUEST_METHOD|POST|REDIRECT_STATUS|200|SERVER_PROTOCOL|HTTP/1.1|HTTP_HOST|localhost:8080|HTTP_CONTENT_LENGTH|3|SCGI|1|'
req lighttpd-post-scgi-last "$random" "$lighttpd" 'a=b'
lighttpd_auth='REQUEST_METHOD|GET|REQUEST_URI|/private|SCGI|1|'
req lighttpd-authorizer-strict "$strict" "$lighttpd_auth" ''
req lighttpd-authorizer-lenient '\x04\xff\xff\xff\x05\x07' "$lighttpd_auth" ''

handwritten='REQUEST_METHOD|POST|CONTENT_LENGTH|2|SCGI|1|'
req content-length-not-first-strict "$strict" "$handwritten" 'ok'
req content-length-anywhere-lenient '\x02\xff\xff\xff\x05\x07' "$handwritten" 'ok'

raw empty-block-strict "$strict" '0:,'
raw empty-block-all-lenient '\x07\xff\xff\xff\x00\x00' '0:,'
raw empty-block-empty-puts '\x47\xff\xff\xff\x02\x05' '0:,'
raw empty-input "$strict" ''
raw length-leading-zero "$strict" '07:'
raw length-not-digit "$strict" ':,'
raw length-missing-colon "$strict" '70;'
raw length-huge "$strict" '99999999999999999999999999:'
raw length-over-small-limit '\x00\x05\xff\xff\x00\x00' '6:'
raw missing-comma "$strict" '24:CONTENT_LENGTH|0|SCGI|1|;'
raw unterminated "$strict" '23:CONTENT_LENGTH|0|SCGI|1,'
raw odd-string-count "$strict" '26:CONTENT_LENGTH|0|SCGI|1|X|,'
raw empty-name "$strict" '27:CONTENT_LENGTH|0|SCGI|1||v|,'
raw content-length-invalid "$strict" '25:CONTENT_LENGTH|1a|SCGI|1|,'
raw content-length-empty "$strict" '23:CONTENT_LENGTH||SCGI|1|,'
req content-length-overflow "$strict" 'CONTENT_LENGTH|18446744073709551616|SCGI|1|' ''
req content-length-max "$strict" 'CONTENT_LENGTH|18446744073709551615|SCGI|1|' 'abc'
raw scgi-invalid "$strict" '24:CONTENT_LENGTH|0|SCGI|2|,'
req binary-values "$random" 'CONTENT_LENGTH|1|SCGI|1|X|\xff\xfe\x01\r\n|' '\x00'
raw many-headers-small-count '\x00\xff\x02\xff\x05\x07' '36:CONTENT_LENGTH|0|SCGI|1|A|1|B|2|C|3|,'

# --- response_parser_fuzz --------------------------------------------------------
# Option bytes: head limit (0xff: default), chunking scheme, seed.
dir=$corpus/response_parser_fuzz
mkdir -p "$dir"

# resp FILE OPTS BYTES (printf escapes)
resp() { { printf '%b' "$2"; printf '%b' "$3"; } >"$dir/seed-$1"; }

d='\xff\x05\x07'   # default limit, 2-byte chunks
r='\xff\x1e\x2a'   # default limit, random chunks
resp status-ok "$d" 'Status: 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<h1>hi</h1>'
resp status-no-reason "$r" 'Status: 204\r\n\r\n'
resp status-unknown-code "$d" 'Status: 599 Whatever\r\nContent-Type: text/plain\r\n\r\n'
resp status-tabs "$r" 'Status:\t404\t Not  Found \t\r\nContent-Length: 9\r\n\r\nnot found'
resp http11-ok "$d" 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'
resp http10-404 "$r" 'HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\n'
resp http-then-status "$d" 'HTTP/1.1 200 OK\r\nStatus: 503 Service Unavailable\r\nRetry-After: 30\r\n\r\n'
resp location-only "$d" 'Location: https://example.org/next\r\n\r\n'
resp location-with-status "$r" 'Status: 301 Moved Permanently\r\nLocation: /new\r\n\r\n'
resp x-accel-redirect "$d" 'Status: 200 OK\r\nX-Accel-Redirect: /protected/file.pdf\r\nContent-Type: application/pdf\r\n\r\n'
resp x-sendfile "$r" 'Content-Type: image/png\r\nX-Sendfile: /srv/files/a.png\r\n\r\n'
resp set-cookie-twice "$d" 'Status: 200 OK\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; HttpOnly\r\ncontent-type: text/plain\r\n\r\nbody'
resp bare-lf "$r" 'Status: 200 OK\nContent-Type: text/plain\n\nbody'
resp empty-head "$d" '\r\n'
resp empty-value "$d" 'X-Empty:\r\nX-Blank:   \r\n\r\n'
resp bytewise '\xff\x00\x00' 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n'
resp small-limit-ok '\x2c\x05\x07' 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n'
resp small-limit-over '\x2b\x05\x07' 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n'
resp partial "$d" 'Status: 200 OK\r\nContent-Type: text/pl'
resp bad-http-version "$d" 'HTTP/2 200 OK\r\n\r\n'
resp bad-http-status "$d" 'HTTP/1.1 20 OK\r\n\r\n'
resp bad-status-value "$r" 'Status: 099 Low\r\n\r\n'
resp bad-status-letters "$d" 'Status: 2xx\r\n\r\n'
resp bad-header-line "$d" 'Status: 200 OK\r\nno colon here\r\n\r\n'
resp bad-header-name "$d" 'Bad Name: x\r\n\r\n'
resp bad-header-value-nul "$d" 'X-A: a\x00b\r\n\r\n'
resp bad-header-value-cr "$r" 'X-A: a\rb\r\n\r\n'
resp obsolete-folding "$d" 'X-A: a\r\n b\r\n\r\n'
resp http-not-first "$d" 'Content-Type: text/plain\r\nHTTP/1.1 200 OK\r\n\r\n'

# --- round_trip_fuzz -----------------------------------------------------------------
# FuzzedDataProvider takes strings from the front (a `\` followed by another
# byte ends a string; `\\` is one backslash) and integers from the back. The
# front is: the URI-helper string, the parameter name, the body, then each
# header's strings. The back, read from the end: seed, scheme, then one kind
# byte per header (see round_trip_fuzz.cpp: kind % 8 chooses CONTENT_LENGTH,
# SCGI, a repeated name, a CGI name, or free strings; bit 6 keeps NULs).
dir=$corpus/round_trip_fuzz
mkdir -p "$dir"

# rt FILE QUERY NAME BODY BACK-BYTES [HEADER-STRINGS...]
#   BACK-BYTES printf escapes in consumption order (seed, scheme, kinds...);
#   they are written reversed, as FuzzedDataProvider reads them from the end.
rt() {
    local file=$1 query=$2 name=$3 body=$4 back=$5
    shift 5
    local bytes
    bytes=$(printf '%b' "$back" | od -An -v -tx1 | tr -s ' \n' ' ')
    {
        for s in "$query" "$name" "$body" "$@"; do printf '%b' "$s"; printf '\\\n'; done
        local rev=""
        for b in $bytes; do rev="\\x$b$rev"; done
        printf '%b' "$rev"
    } >"$dir/seed-$file"
}

rt nginx-get 'q=caf%C3%A9&page=2&&flag' 'q' '' '\x07\x05\x03\x0b\x13\x04\x04' \
    'GET' '/search?q=caf%C3%A9' 'q=caf%C3%A9&page=2' 'HTTP_HOST' 'example.org' 'HTTP_ACCEPT' '*/*'
rt post-form 'a=1&b=%2B+x&c' 'b' 'a=1&b=%2B+x' '\x1e\x2a\x00\x01\x03\x0b\x1b' \
    'POST' '/form' 'application/x-www-form-urlencoded'
rt explicit-cl-scgi 'x=%zz' 'x' 'What is the answer to life?' '\x00\x00\x03\x00\x01\x0b' \
    'POST' '/deepthought'
rt duplicate-name 'a+b=c%20d' 'a b' '' '\x05\x07\x03\x02' 'GET' 'HEAD'
rt wrong-content-length '%41%4a%4A' 'AJJ' 'xyz' '\x05\x07\x80' '12'
rt wrong-scgi '=&=&a==' '' '' '\x05\x07\x81' '2'
rt nul-in-value '%00%' '' 'b' '\x05\x07\x44' 'X-NUL' 'a\x00b'
rt empty-name '' '' '' '\x05\x07\x44' '' 'v'
rt binary-strings '\xff%ff+' '\xff' '\x01\x02\x03' '\x02\x08\x04\x04' 'X\xfe' '\xfe\xff' 'HTTP_X_Y' '\x7f'

# --- server_connection_fuzz ----------------------------------------------------------
# Bytes (server_connection_fuzz.cpp): flags (bit 0 server, bits 1-2 the
# client's end, bit 3 built request, bit 4 paced), chunking scheme and seed,
# send fraction (0xff: all), answer bytes read before a reset, script length
# n and n (operation, argument) pairs, then the request: raw, or (built) body
# length, CONTENT_LENGTH adjustment, extra header bytes and the body.
dir=$corpus/server_connection_fuzz
mkdir -p "$dir"

# conn FILE FLAGS SCRIPT REQUEST: SCRIPT is a printf-escaped string of pairs
# (its length byte is computed); FLAGS one byte; REQUEST printf escapes.
conn() {
    local file=$1 flags=$2 script=$3 request=$4
    local steps
    steps=$(( $(printf '%b' "$script" | wc -c) / 2 ))
    {
        printf '%b' "$flags"
        printf '\x05\x07\xff\x10'
        printf "\\x$(printf '%02x' "$steps")"
        printf '%b' "$script"
        printf '%b' "$request"
    } >"$dir/seed-$file"
}

echo_script='\x01\x00\x04\x00\x05\x14\x07\x00'   # read all, head 200, 20 bytes, finish
post='\x0b\x00REQUEST_METHOD\x00POST\x00REQUEST_URI\x00/deepthought\x00What is the answe'
get='\x00\x00REQUEST_METHOD\x00GET\x00REQUEST_URI\x00/\x00'
conn echo-keep-open '\x08' "$echo_script" "$post"
conn echo-half-close '\x0a' "$echo_script" "$post"
conn echo-streaming '\x09' "$echo_script" "$post"
conn echo-paced-random '\x1a' "$echo_script" "$post"
conn echo-reset '\x0c' "$echo_script" "$post"
conn echo-read-then-reset '\x0e' "$echo_script" "$post"
conn send-text '\x08' '\x08\x28' "$get"
conn send-text-streaming '\x09' '\x00\x00\x08\x80' "$post"
conn throw-before-answer '\x08' '\x09\x00' "$post"
conn throw-after-head-sent '\x0a' '\x04\x00\x05\x0a\x09\x00' "$get"
conn return-without-answer '\x08' '\x0a\x00' "$get"
conn head-only '\x08' '\x04\x02' "$post"
conn declared-length-kept '\x08' '\x04\x58\x05\x0f' "$get"
conn declared-length-short '\x0a' '\x04\x58\x05\x05' "$get"
conn declared-length-passed '\x08' '\x04\x58\x05\x14' "$get"
conn write-before-head '\x08' '\x05\x04' "$get"
# Two writes of 255 KiB: more than the socket takes at once, so the server
# waits for the client to read (under write_timeout).
conn large-writes '\x08' '\x04\x00\x0c\xff\x0c\xff\x07\x00' "$get"
conn large-write-then-reset '\x0e' '\x04\x00\x0c\xff\x05\x10' "$get"
conn head-twice '\x08' '\x04\x00\x04\x01' "$get"
conn read-some-sleep-write '\x09' '\x00\x00\x0b\x05\x04\x01\x06\x02' "$post"
conn read-body-limit '\x08' '\x02\x01\x04\x00\x05\x04' "$post"
conn discard-then-answer '\x08' '\x03\x00\x04\x00\x05\x03' "$post"
# The rest of a large body unread when the response starts: over
# spool.max_bytes (256) on server 0.
conn spool-refused '\x0a' '\x04\x00\x05\x04' '\xff\x00REQUEST_METHOD\x00PUT\x00'"$(printf 'b%.0s' $(seq 255))"
conn body-short-half-close '\x0a' "$echo_script" '\x04\x10REQUEST_METHOD\x00POST\x00abcd'
conn body-short-keep-open '\x08' "$echo_script" '\x04\x10REQUEST_METHOD\x00POST\x00abcd'
conn trailing-bytes '\x08' "$echo_script" '\x04\xfeREQUEST_METHOD\x00POST\x00abcd'
conn no-content-length '\x09' "$echo_script" '\x00\x80REQUEST_URI\x00/\x00'
conn protocol-example-raw '\x00' "$echo_script" '70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00REQUEST_URI\x00/deepthought\x00,What is the answer to life?'
conn malformed-raw '\x00' "$echo_script" '24:CONTENT_LENGTH\x000\x00SCGI\x002\x00,'
conn head-too-large-raw '\x02' "$echo_script" '99999:'
conn body-too-large-raw '\x00' "$echo_script" '27:CONTENT_LENGTH\x00999999\x00SCGI\x001\x00,'
conn half-head-keep-open '\x00' "$echo_script" '70:CONTENT_LENGTH\x0027\x00SCG'
conn half-head-half-close '\x02' "$echo_script" '70:CONTENT_LENGTH\x0027\x00SCG'
conn nothing-keep-open '\x00' '' ''
conn nothing-reset '\x04' '' ''
