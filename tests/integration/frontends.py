"""Private instances of Debian's nginx, Apache httpd and lighttpd.

Each front end gets a top-level configuration written here (listen port on
127.0.0.1, pid file, logs, temporary directories, all inside the sandbox; the
worker user when running as root) around the snippets taken from docs/, which
are what a user writes in their own configuration. The machine's own
configuration under /etc is never read for anything but nginx's stock
`scgi_params`, which is copied next to the private configuration (as a
private `-c` configuration needs it to be)."""

import os
import shutil
import signal

from harness import IS_ROOT, WEB_USER, Process, free_port, can_connect, wait_for, read_text


class FrontEnd:
    name = "frontend"

    def __init__(self, sandbox, snippets, http_snippets=(), user=True):
        """`snippets`: configuration text at the server level (a location
        block, ProxyPass lines, scgi.server). `http_snippets`: nginx's http
        level (upstream blocks); others take everything at the top level.
        `user`: when root, run the workers as www-data (as Debian's own
        configurations do); False leaves each server's built-in default."""
        self.sandbox = sandbox
        self.dir = sandbox.mkdir(self.name)
        self.port = free_port()
        self.snippets = list(snippets)
        self.http_snippets = list(http_snippets)
        self.user = user and IS_ROOT
        self.process = None
        self.error_log = os.path.join(self.dir, "error.log")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def start(self):
        self.write_config()
        self.process = Process(self.command(), self.name, os.path.join(self.dir, "console.log"))
        wait_for(lambda: not self.process.alive() or can_connect(("127.0.0.1", self.port)), 15,
                 what=self.name + " to listen on %d" % self.port)
        if not self.process.alive():
            raise AssertionError("%s did not start:\n%s\n%s" % (
                self.name, read_text(self.process.log_path), read_text(self.error_log)))
        return self

    def stop(self):
        if self.process:
            self.process.stop(signal.SIGTERM, timeout=10)
            self.process = None

    def log(self):
        return read_text(self.error_log)


class Nginx(FrontEnd):
    name = "nginx"

    def write_config(self):
        for d in ("client_body", "scgi", "proxy", "fastcgi", "uwsgi"):
            os.makedirs(os.path.join(self.dir, "temp", d), exist_ok=True)
        # `include scgi_params;` is resolved against the configuration's own
        # directory: a private -c configuration needs its own copy.
        shutil.copy("/etc/nginx/scgi_params", os.path.join(self.dir, "scgi_params"))
        www = self.sandbox.mkdir("www")
        d = self.dir
        conf = [
            "daemon off;",
            "master_process on;",
            "worker_processes 1;",
            "pid %s/nginx.pid;" % d,
            "error_log %s info;" % self.error_log,
        ]
        if self.user:
            conf.append("user %s %s;" % (WEB_USER, WEB_USER))
        conf += [
            "events { worker_connections 1024; }",
            "http {",
            "    access_log %s/access.log;" % d,
            "    client_body_temp_path %s/temp/client_body;" % d,
            "    scgi_temp_path %s/temp/scgi;" % d,
            "    proxy_temp_path %s/temp/proxy;" % d,
            "    fastcgi_temp_path %s/temp/fastcgi;" % d,
            "    uwsgi_temp_path %s/temp/uwsgi;" % d,
            *self.http_snippets,
            "    server {",
            "        listen 127.0.0.1:%d;" % self.port,
            "        server_name localhost;",
            "        root %s;" % www,
            *self.snippets,
            "    }",
            "}",
        ]
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")

    def command(self):
        return ["nginx", "-p", self.dir + "/", "-c", os.path.join(self.dir, "nginx.conf"), "-e", self.error_log]


APACHE_MODULES = "/usr/lib/apache2/modules"


class Apache(FrontEnd):
    name = "apache"
    modules = ("mpm_event", "authz_core", "proxy", "proxy_scgi", "xsendfile")

    def write_config(self):
        d = self.dir
        run = self.sandbox.mkdir(self.name, "run")
        www = self.sandbox.mkdir("www")
        conf = [
            'ServerRoot "%s"' % d,
            'DefaultRuntimeDir "%s"' % run,
            'PidFile "%s/apache.pid"' % d,
            'Mutex file:%s default' % run,
            'ErrorLog "%s"' % self.error_log,
            "LogLevel warn proxy:info" + (" proxy_scgi:info" if "proxy_scgi" in self.modules else ""),
            "ServerName 127.0.0.1",
            "Listen 127.0.0.1:%d" % self.port,
            'DocumentRoot "%s"' % www,
        ]
        for m in self.modules:
            conf.append("LoadModule %s_module %s/mod_%s.so" % (m, APACHE_MODULES, m))
        if self.user:
            conf += ["User %s" % WEB_USER, "Group %s" % WEB_USER]
        conf += self.snippets
        with open(os.path.join(d, "apache2.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")

    def command(self):
        return ["apache2", "-d", self.dir, "-f", os.path.join(self.dir, "apache2.conf"), "-DFOREGROUND"]


class Lighttpd(FrontEnd):
    name = "lighttpd"

    def write_config(self):
        # lighttpd opens its error log after dropping to the workers' user.
        d = self.sandbox.mkdir(self.name, owner=WEB_USER if self.user else None)
        www = self.sandbox.mkdir("www")
        # Request bodies are buffered here, by the workers' user.
        upload = self.sandbox.mkdir(self.name, "upload", mode=0o700, owner=WEB_USER if self.user else None)
        conf = [
            'server.document-root = "%s"' % www,
            'server.bind = "127.0.0.1"',
            "server.port = %d" % self.port,
            'server.pid-file = "%s/lighttpd.pid"' % d,
            'server.errorlog = "%s"' % self.error_log,
            'server.upload-dirs = ( "%s" )' % upload,
            'server.modules = ( "mod_scgi" )',
        ]
        if self.user:
            conf += ['server.username = "%s"' % WEB_USER, 'server.groupname = "%s"' % WEB_USER]
        conf += self.snippets
        with open(os.path.join(d, "lighttpd.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")

    def command(self):
        return ["lighttpd", "-D", "-f", os.path.join(self.dir, "lighttpd.conf")]
