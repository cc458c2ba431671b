/*
 * runchart.h - one line chart of the run report as inline SVG: up to four
 * lines over the run's time on a shared y axis, optionally one bar series
 * on its own right-hand scale (429s). Drawn by the program, no script: the
 * page shows in mail clients that block scripts and has nothing to update.
 */
#ifndef DOTS_RUNCHART_H
#define DOTS_RUNCHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define RUNCHART_LINES 4

struct chart_line {
	const char *label;   /* legend text (plain ASCII, escaped anyway) */
	const char *color;   /* "#rrggbb" */
	const double *v;     /* n values; NaN = no value (a gap in the line) */
};

struct chart {
	const char *id;        /* element id, [a-z0-9-] */
	const char *title;
	const char *unit;      /* of the left axis: "rows/s", "ms" */
	size_t n;              /* points */
	double step_s;         /* time one point covers */
	double end_s;          /* the run's length (the x axis) */
	struct chart_line line[RUNCHART_LINES];
	size_t nlines;
	struct chart_line bars; /* bars.v NULL: none */
};

/* Writes <svg>...</svg> (a figure with a title, axes, legend). */
void runchart_svg(FILE *f, const struct chart *c);

/* The smallest 1, 2 or 5 times a power of ten at or above v (v <= 0: 1). */
double runchart_nice_max(double v);

/* "45 s", "12:05", "3:02:40" */
void runchart_duration(double s, char *out, size_t cap);

#endif
