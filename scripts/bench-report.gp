# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# report.png from the data files scripts/bench-report.py writes into `dir`
# (has_<name> = 0 when a part produced none: the panel says so).
# gnuplot -e "dir='build/bench/plot'; out='build/bench/report.png'; has_datapath=1; ..." bench-report.gp

set terminal pngcairo size 1500,900 font ",9" noenhanced
set output out
set multiplot layout 2,3 title "hblb benchmarks (each figure beside its reference from the same run)"
set style fill solid 0.6 border -1
set grid ytics
set key top left

# an empty panel with a line saying why
nodata(name) = sprintf("%s: not measured in this run", name)

# 1: data path
set title "data path, ns/packet (median, bars: min-max)"
if (has_datapath) {
	set boxwidth 0.6
	set xtics rotate by -30
	set yrange [0:*]
	plot dir."/datapath.dat" using 0:($5 > 0 ? $2 : 1/0):xtic(1) with boxes lc rgb "#999999" title "floors", \
	     "" using 0:($5 > 0 ? 1/0 : $2) with boxes lc rgb "#3070b0" title "hblb", \
	     "" using 0:2:3:4 with yerrorbars lc rgb "black" pt 0 notitle
	unset xtics; set xtics; set yrange [*:*]
} else {
	set label 1 nodata("datapath") at graph 0.5,0.5 center
	unset tics; set yrange [0:1]
	plot -1 notitle
	unset label 1; set tics; set yrange [*:*]
}

# 2: Maglev
set title "Maglev: build and install+swap (ms, median)"
if (has_maglev) {
	set logscale xy
	set xlabel "backends N"
	set yrange [0.001:1000]
	plot dir."/maglev.dat" using 1:2 with linespoints title "build, M=65537", \
	     "" using 1:4 with linespoints title "build, M=655373", \
	     "" using 1:3 with linespoints title "install+swap, M=65537", \
	     "" using 1:5 with linespoints title "install+swap, M=655373", \
	     1.0 with lines dt 2 lc rgb "red" title "target: build <= 1 ms (M=65537, N=1000)"
	unset logscale; unset xlabel; set yrange [*:*]
} else {
	set label 1 nodata("maglev") at graph 0.5,0.5 center
	unset tics; set yrange [0:1]
	plot -1 notitle
	unset label 1; set tics; set yrange [*:*]
}

# 3: disruption
set title "flows moved by one backend change (share of all)"
if (has_disruption) {
	set logscale xy
	set xlabel "backends N"
	plot dir."/disruption.dat" using 1:2 with linespoints title "1 removed", \
	     "" using 1:3 with linespoints title "1 added", \
	     "" using 1:4 with linespoints dt 3 title "had to move (removed one's flows)", \
	     "" using 1:5 with lines dt 2 lc rgb "red" title "target 1/N + 1%"
	unset logscale; unset xlabel
} else {
	set label 1 nodata("disruption") at graph 0.5,0.5 center
	unset tics; set yrange [0:1]
	plot -1 notitle
	unset label 1; set tics; set yrange [*:*]
}

# 4: controller and fast failover, ms
set title "reaction times, ms (red: target)"
if (has_times) {
	set boxwidth 0.6
	set xtics rotate by -20
	set offsets 0, 0, graph 0.1, 0
	set yrange [0:*]
	plot dir."/times.dat" using 0:2:xtic(1) with boxes lc rgb "#3070b0" notitle, \
	     "" using 0:3 with points pt 7 ps 1.5 lc rgb "red" notitle
	set yrange [*:*]; set xtics norotate; set offsets 0, 0, 0, 0
} else {
	set label 1 nodata("controller, failover") at graph 0.5,0.5 center
	unset tics; set yrange [0:1]
	plot -1 notitle
	unset label 1; set tics; set yrange [*:*]
}

# 5: failover at the default interval
set title "failover, 1 s heartbeats, ms (red: target)"
if (has_failover) {
	set boxwidth 0.6
	set xtics rotate by -20
	set offsets 0, 0, graph 0.1, 0
	set yrange [0:*]
	plot dir."/failover.dat" using 0:2:xtic(1) with boxes lc rgb "#3070b0" notitle, \
	     "" using 0:3 with points pt 7 ps 1.5 lc rgb "red" notitle
	set yrange [*:*]; set xtics norotate; set offsets 0, 0, 0, 0
} else {
	set label 1 nodata("failover") at graph 0.5,0.5 center
	unset tics; set yrange [0:1]
	plot -1 notitle
	unset label 1; set tics; set yrange [*:*]
}

# 6: throughput and counting, as ratios to their references
set title "ratios to the reference (red: target)"
if (has_ratios) {
	set boxwidth 0.6
	set xtics rotate by -20
	set offsets 0, 0, graph 0.1, 0
	set yrange [0:1.2]
	plot dir."/ratios.dat" using 0:2:xtic(1) with boxes lc rgb "#3070b0" notitle, \
	     "" using 0:3 with points pt 7 ps 1.5 lc rgb "red" notitle
	set yrange [*:*]; set xtics norotate; set offsets 0, 0, 0, 0
} else {
	set label 1 nodata("veth, heartbeat_scale, http") at graph 0.5,0.5 center
	unset tics; set yrange [0:1]
	plot -1 notitle
	unset label 1; set tics; set yrange [*:*]
}

unset multiplot
