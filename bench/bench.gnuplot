# bench/bench.gnuplot — the chart of bench/results/bench.dat (bench/report.py):
# imgbuild vs the peer pipeline, seconds (log scale), one group per row.
#   gnuplot -e "dat='bench/results/bench.dat'; out='bench/results/bench.png'" bench/bench.gnuplot
if (!exists("dat")) dat = 'bench/results/bench.dat'
if (!exists("out")) out = 'bench/results/bench.png'
set terminal pngcairo size 960,540 font ",11"
set output out
set title "imgbuild vs dnf + virt-make-fs + qemu-img (median wall time, log scale; lower is better)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.01:*]
set ylabel "seconds"
set grid ytics
set key top right
set xtics nomirror
plot dat using 2:xtic(1) title "imgbuild" lc rgb "#1f77b4", \
     '' using 3 title "peer pipeline" lc rgb "#ff7f0e", \
     '' using 0:2:(sprintf("%.3g", $2)) with labels offset -1.6,0.6 font ",9" notitle, \
     '' using 0:3:(sprintf("%.3g", $3)) with labels offset 1.6,0.6 font ",9" notitle
