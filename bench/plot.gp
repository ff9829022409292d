# bench/plot.gp - the load curve of bench/run: throughput and latency against offered load.
# Variables (gnuplot -e): datafile (columns: offered lines/s, answered lines/s, p50 ms, p99 ms,
# probe p99 ms, p99 ms of 500-2000-line sendings), out (PNG), closed (closed-loop lines/s),
# closed_p99 (its p99 in ms), tariff and ledger (ceilings in lines/s), probe_label, subtitle.
set terminal pngcairo size 1000,900 font "DejaVu Sans,10"
set output out
set multiplot layout 2,1 title "tpcleard: answered lines/s and latency against offered load\n{/*0.8 ".subtitle."}"
set key below box spacing 1.1
set bmargin 8
set grid
set xlabel "offered load (thousand lines/s, open loop)"
set format x "%.0f"
set xrange [0:*]

set ylabel "answered (thousand lines/s)"
set yrange [0:*]
plot datafile using ($1/1000):($1/1000) with lines dt 3 lc rgb "gray50" title "offered = answered", \
     datafile using ($1/1000):($2/1000) with linespoints pt 7 lw 2 lc rgb "#1f77b4" title "engine, open loop", \
     closed/1000 with lines dt 2 lw 2 lc rgb "#2ca02c" title sprintf("engine, closed loop max (%.0fk)", closed/1000), \
     tariff/1000 with lines dt 4 lc rgb "#ff7f0e" title sprintf("ceiling: decode+validate+tariff, 1 thread (%.0fk)", tariff/1000), \
     ledger/1000 with lines dt 5 lc rgb "#d62728" title sprintf("ceiling: ledger write only (%.0fk)", ledger/1000)

set ylabel "latency (ms, log scale)"
set logscale y
set yrange [0.5:*]
plot datafile using ($1/1000):4 with linespoints pt 7 lw 2 lc rgb "#1f77b4" title "sending p99 (send to durable result)", \
     datafile using ($1/1000):3 with linespoints pt 6 lc rgb "#17becf" title "sending p50", \
     datafile using ($1/1000):6 with linespoints pt 4 lc rgb "#9467bd" title "p99 of 500-2000-line sendings", \
     datafile using ($1/1000):5 with linespoints pt 5 lc rgb "#8c564b" title probe_label, \
     closed_p99 with lines dt 2 lc rgb "#2ca02c" title sprintf("closed loop p99 (%.0f ms)", closed_p99), \
     20 with lines dt 3 lc rgb "gray40" title "target: 1,000-line sending p99 20 ms (half load)", \
     1 with lines dt 3 lc rgb "gray70" title "target: eAttest p99 1 ms"
unset multiplot
