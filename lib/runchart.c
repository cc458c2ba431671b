/*
 * runchart.c - inline SVG line charts for the run report (runchart.h).
 * Everything it prints is numbers or text escaped for XML; it draws at
 * most one polyline vertex per point, so the size is bounded by the
 * series' cap.
 */
#include "runchart.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

#define W 760.0
#define H 210.0
#define PL 60.0   /* plot area: left, right, top, bottom margins */
#define PR 52.0
#define PT 34.0
#define PB 26.0

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f); break;
		}
}

double runchart_nice_max(double v)
{
	double p;

	if (!(v > 0) || !isfinite(v))
		return 1;
	p = pow(10, floor(log10(v)));
	if (v <= p * 1.0000001)
		return p;
	if (v <= 2 * p)
		return 2 * p;
	if (v <= 5 * p)
		return 5 * p;
	return 10 * p;
}

void runchart_duration(double s, char *out, size_t cap)
{
	long t = (long)(s + 0.5);

	if (s < 60)
		snprintf(out, cap, "%.0f s", s);
	else if (t < 3600)
		snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
	else
		snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void axis_value(double v, char *out, size_t cap)
{
	if (v >= 10000)
		snprintf(out, cap, "%.0fk", v / 1000);
	else if (v >= 10 || v == floor(v))
		snprintf(out, cap, "%.0f", v);
	else
		snprintf(out, cap, "%.1f", v);
}

static double x_of(const struct chart *c, size_t i)
{
	double span = c->end_s > 0 ? c->end_s : 1;
	double t = ((double)i + 0.5) * c->step_s;

	if (c->n == 1)
		t = span / 2;
	if (t > span)
		t = span;
	return PL + (W - PL - PR) * t / span;
}

static double y_of(double v, double max)
{
	return PT + (H - PT - PB) * (1 - v / max);
}

static double max_of(const double *v, size_t n)
{
	double m = 0;

	for (size_t i = 0; v && i < n; i++)
		if (isfinite(v[i]) && v[i] > m)
			m = v[i];
	return m;
}

/* One line: polylines between gaps; a lone value is a short dash. */
static void draw_line(FILE *f, const struct chart *c, const struct chart_line *l, double max)
{
	size_t i = 0;

	while (i < c->n) {
		size_t j = i;

		while (i < c->n && !isfinite(l->v[i]))
			i++;
		j = i;
		while (j < c->n && isfinite(l->v[j]))
			j++;
		if (i == j)
			break;
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
			   "stroke-linejoin=\"round\" points=\"", l->color);
		if (j - i == 1) {
			double x = x_of(c, i), y = y_of(l->v[i], max);

			fprintf(f, "%.1f,%.1f %.1f,%.1f", x - 3, y, x + 3, y);
		}
		for (size_t k = i; j - i > 1 && k < j; k++)
			fprintf(f, "%s%.1f,%.1f", k > i ? " " : "", x_of(c, k), y_of(l->v[k], max));
		fputs("\"/>\n", f);
		i = j;
	}
}

static void draw_bars(FILE *f, const struct chart *c, double max)
{
	double w = (W - PL - PR) / (double)(c->n ? c->n : 1) * 0.8;

	if (w < 1.5)
		w = 1.5;
	for (size_t i = 0; i < c->n; i++) {
		double v = c->bars.v[i];

		if (!isfinite(v) || v <= 0)
			continue;
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
			x_of(c, i) - w / 2, y_of(v, max), w, H - PB - y_of(v, max), c->bars.color);
	}
}

static void legend(FILE *f, const struct chart_line *l, double *x)
{
	fprintf(f, "<rect x=\"%.0f\" y=\"9\" width=\"14\" height=\"4\" fill=\"%s\"/>"
		   "<text x=\"%.0f\" y=\"15\">", *x, l->color, *x + 18);
	esc(f, l->label);
	fputs("</text>\n", f);
	*x += 26 + 7.0 * (double)strlen(l->label);
}

void runchart_svg(FILE *f, const struct chart *c)
{
	double max = 0, bmax = 0, lx;
	bool any = false;
	char a[32], b[32];

	for (size_t k = 0; k < c->nlines; k++) {
		double m = max_of(c->line[k].v, c->n);

		max = m > max ? m : max;
		for (size_t i = 0; i < c->n; i++)
			any = any || isfinite(c->line[k].v[i]);
	}
	max = runchart_nice_max(max);
	if (c->bars.v)
		bmax = runchart_nice_max(max_of(c->bars.v, c->n));
	fprintf(f, "<figure class=\"chart\" id=\"%s\"><figcaption>", c->id);
	esc(f, c->title);
	fprintf(f, "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
		   "width=\"%.0f\" height=\"%.0f\" role=\"img\" font-family=\"sans-serif\" "
		   "font-size=\"11\" fill=\"#444\">\n", W, H, W, H);
	fputs("<title>", f);
	esc(f, c->title);
	fputs("</title>\n", f);
	/* grid and axes: a nice max of 2 x 10^k in quarters, else fifths */
	int parts = fabs(max / pow(10, floor(log10(max))) - 2) < 1e-9 ? 4 : 5;

	for (int g = 0; g <= parts; g++) {
		double v = max * g / parts, y = y_of(v, max);
		double bv = bmax * g / parts;

		axis_value(v, a, sizeof(a));
		fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
			   "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			PL, W - PR, y, y, g ? "#e4e4e4" : "#999", PL - 6, y + 4, a);
		if (c->bars.v && bv == floor(bv)) { /* whole counts only */
			axis_value(bv, b, sizeof(b));
			fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" fill=\"%s\">%s</text>\n", W - PR + 6,
				y + 4, c->bars.color, b);
		}
	}
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"start\">", 4.0, PT - 10);
	esc(f, c->unit);
	fputs("</text>\n", f);
	for (int g = 0; g <= 4; g++) {
		double x = PL + (W - PL - PR) * g / 4;

		runchart_duration((c->end_s > 0 ? c->end_s : 0) * g / 4, a, sizeof(a));
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", x,
			H - 8, a);
	}
	lx = PL + 80;
	for (size_t k = 0; k < c->nlines; k++)
		legend(f, &c->line[k], &lx);
	if (c->bars.v)
		legend(f, &c->bars, &lx);
	if (c->bars.v)
		draw_bars(f, c, bmax);
	for (size_t k = 0; k < c->nlines; k++)
		draw_line(f, c, &c->line[k], max);
	if (!any && !(c->bars.v && max_of(c->bars.v, c->n) > 0))
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">no data in this run</text>\n",
			(W + PL - PR) / 2, (H + PT - PB) / 2);
	fputs("</svg></figure>\n", f);
}
