# The performance report's charts, from the data files report.py writes.
# gnuplot -e "data='DIR'; out='DIR'" charts.gp
# (The Unix charts have no SO_REUSEPORT column: it is TCP only.)
set terminal pngcairo size 1000,420 font "DejaVu Sans,10"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside bottom center horizontal
set grid ytics
set yrange [0:*]
set datafile missing "NaN"
set linetype 1 lc rgb "#7f7f7f"
set linetype 2 lc rgb "#1f77b4"
set linetype 3 lc rgb "#2ca02c"
set linetype 4 lc rgb "#ff7f0e"

set output out."/cpu-per-request.png"
set multiplot layout 1,2 title "Server CPU time per request (µs, lower is better): one 13-byte POST per connection, scgi-bench"
set title "Unix socket, by connections"
unset xlabel
set ylabel "CPU µs per request"
plot for [i=2:4] data."/direct-unix.dat" using i:xtic(1) title columnheader(i)
set title "TCP 127.0.0.1, by connections"
plot for [i=2:5] data."/direct-tcp.dat" using i:xtic(1) title columnheader(i)
unset multiplot

set output out."/requests-per-second.png"
set multiplot layout 1,2 title "Requests per second (higher is better; the load generator shares the 2 cores)"
set title "Unix socket, by connections"
set ylabel "requests/s"
plot for [i=2:4] data."/rps-unix.dat" using i:xtic(1) title columnheader(i)
set title "TCP 127.0.0.1, by connections"
plot for [i=2:5] data."/rps-tcp.dat" using i:xtic(1) title columnheader(i)
unset multiplot

set terminal pngcairo size 640,420 font "DejaVu Sans,10"
set output out."/behind-nginx.png"
set title "Behind nginx (1 worker), wrk, by connections: is the backend or the front end the limit?"
unset xlabel
set ylabel "requests/s"
set linetype 1 lc rgb "#9467bd"
set linetype 2 lc rgb "#1f77b4"
set linetype 3 lc rgb "#7f7f7f"
plot for [i=2:4] data."/nginx.dat" using i:xtic(1) title columnheader(i)

set output out."/large-bodies.png"
set title "64 MiB bodies: server CPU ms per MB (lower is better)"
set xlabel ""
set ylabel "CPU ms per MB"
set linetype 1 lc rgb "#7f7f7f"
set linetype 2 lc rgb "#1f77b4"
plot for [i=2:3] data."/large.dat" using i:xtic(1) title columnheader(i)
