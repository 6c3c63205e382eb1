# shared_heap.gp - the shared-heap plot of make bench: alloc+free pairs per
# second against the number of processes, one panel per size mix, from the
# data file bench_speed writes (gnuplot -e "data='FILE'; out='SVG'").
set terminal svg size 960,420 dynamic font "sans,11"
set output out
set datafile missing NaN
set multiplot layout 1,2 title "Shared heap: 1000 live blocks per process, free one + allocate one"
set logscale y
set format y "%.0s%c"
set xlabel "processes"
set ylabel "alloc+free pairs per second (all processes)"
set xtics (1, 2, 4)
set xrange [0.8:4.2]
set grid ytics
set key below font ",9"
set title "sizes uniform 16-512 B"
plot for [c=2:6] data index 0 using 1:c with linespoints lw 2 pt 7 \
     title columnheader(c)
set title "sizes uniform 16 B-64 KiB"
plot for [c=2:6] data index 1 using 1:c with linespoints lw 2 pt 7 \
     title columnheader(c)
unset multiplot
