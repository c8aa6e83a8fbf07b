"""A run report as a timeline picture (SVG), for the incident write-up:
one lane per group (grouped by tier, vital first), one bar per step, and
the RTO target of each group as a vertical line in its lane."""

from xml.sax import saxutils

LANE = 26
TOP = 48
# The label column fits the longest lane label; the chart has a fixed
# width; the right margin holds the RTO labels and the last tick's.
MIN_LABEL = 160
CHART = 660
RIGHT = 90
# Width of one character of the labels (12 px sans-serif, bold at most):
# an upper bound, so that no label runs into the bars.
CHAR = 7.5
COLOURS = {'SUCCESS': '#3c8d40', 'ERROR': '#c62828', 'RUNNING': '#f9a825'}


def _group_label(group):
    return 'tier %s  %s' % (group['tier'], group['group'])


def label_width(report):
    """Pixels of the label column: the longest lane label and a gap."""
    labels = [(10, _group_label(g)) for g in report['groups']] + [
        (24, s['step']) for g in report['groups'] for s in g['steps']]
    return max([MIN_LABEL] + [int(x + len(text) * CHAR) + 16
                              for x, text in labels])


def svg(report):
    """SVG text of ``report`` (see :mod:`rescuer.report`)."""
    lanes = [(g, s) for g in report['groups']
             for s in [None] + list(g['steps'])]
    ticks = _ticks(max([report['seconds']] +
                       [g['rto_target'] for g in report['groups']] + [1]))
    left = label_width(report)
    scale = CHART / float(ticks[-1])
    width = left + CHART + RIGHT
    height = TOP + LANE * len(lanes) + 40
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           _text(10, 20, '%s run %s at %s: %s in %.0f s' % (
               report['kind'], report['run_id'], report['site'],
               report['state'], report['seconds']), size=14)]
    for tick in ticks:
        x = left + tick * scale
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" '
                   'stroke="#ddd"/>' % (x, TOP - 8, x, height - 30))
        out.append(_text(x - 8, height - 14, '%d s' % tick))
    y = TOP
    for group, step in lanes:
        if step is None:
            out.append(_text(10, y + 16, _group_label(group),
                             weight='bold'))
            if group['start'] is not None and group['end'] is not None:
                out.append(_bar(left, group['start'], group['end'], y,
                                scale, group['state'], opacity=0.35))
            x = left + group['rto_target'] * scale
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" '
                       'stroke="#1565c0" stroke-dasharray="4 3"/>'
                       % (x, y, x, y + LANE * (len(group['steps']) + 1)))
            out.append(_text(x + 3, y + 10, 'RTO %d s' % group['rto_target'],
                             colour='#1565c0'))
        else:
            out.append(_text(24, y + 16, step['step']))
            out.append(_bar(left, step['start'], step['end'], y, scale,
                            step['state']))
        y += LANE
    out.append('</svg>')
    return '\n'.join(out) + '\n'


def _bar(left, start, end, y, scale, state, opacity=1.0):
    width = max(2.0, (end - start) * scale)
    return ('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" '
            'fill-opacity="%.2f"><title>%s %.0f-%.0f s</title></rect>'
            % (left + start * scale, y + 4, width, LANE - 8,
               COLOURS.get(state, '#777'), opacity, state, start, end))


def _text(x, y, text, size=12, weight='normal', colour='black'):
    return ('<text x="%.1f" y="%d" font-size="%d" font-weight="%s" '
            'fill="%s">%s</text>' % (x, y, size, weight, colour,
                                     saxutils.escape(str(text))))


def _ticks(horizon):
    """Ticks from 0 to the first at or past ``horizon``, at most 11."""
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800,
                             3600) if horizon / s <= 10),
                int(horizon // 10) or 1)
    last = -(-int(horizon) // step) * step or step
    return list(range(0, last + step, step))
