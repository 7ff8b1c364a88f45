using System.Globalization;
using System.Xml.Linq;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Reporting;

/// <summary>What a dashboard page shows besides the trends.</summary>
public sealed record DashboardPageOptions
{
    /// <summary>The page's title and heading.</summary>
    public string Title { get; init; } = "SpecFunctions audits";

    /// <summary>The runs table (a page of the history); null: no runs table (<c>specfn trend</c>).</summary>
    public RunPage? Runs { get; init; }

    /// <summary>
    /// Whether the page polls the status route (<c>evaluations/{runId}</c>, relative to the page) for its running runs and
    /// carries the page's <c>code</c> query parameter (the function key) on those fetches and on its report links.
    /// </summary>
    public bool Live { get; init; }

    /// <summary>Milliseconds between two polls of a running run.</summary>
    public int PollMilliseconds { get; init; } = 5000;

    /// <summary>The link to a run's HTML report; null: the run is not linked.</summary>
    public Func<string, string?> ReportHref { get; init; } = _ => null;
}

/// <summary>
/// Renders the audits dashboard (<c>GET /api/dashboard</c>) and the trend page of <c>specfn trend</c>: the runs table and,
/// per suite, inline-SVG trend charts of U and of each task's measured speed-up with its interval, markers where the
/// regression check fired or a mitigation was promoted, and the same figures as a table under each chart. One
/// self-contained HTML file: inline CSS and SVG, no font, framework or CDN; the only script (when
/// <see cref="DashboardPageOptions.Live"/>) is inline and only polls the app's own status route.
/// <para>Hooks for tests and tools: <c>table#runs-table</c> rows <c>tr[data-run]</c> with <c>data-status</c> and, while
/// polled, <c>data-live="true"</c>; their progress is <c>progress</c> plus <c>span.progress-text</c> ("done/total").
/// Each suite is <c>section.suite-trend[data-suite]</c> with <c>svg.trend-u</c>, <c>svg.trend-speedup</c> and
/// <c>table.trend-table</c>; points are <c>circle.point</c> with <c>data-run</c>, <c>data-series</c> (<c>U</c> or a task
/// id) and <c>data-value</c> (round-trip invariant number); intervals are <c>line.ci</c> with <c>data-lower</c>/<c>data-upper</c>;
/// markers are <c>line.marker.regression</c> and <c>line.marker.promotion</c> with <c>data-run</c>.</para>
/// </summary>
public static class DashboardPageWriter
{
    private static readonly XNamespace H = HtmlDocument.H;
    private static readonly XNamespace S = "http://www.w3.org/2000/svg";

    private const int Width = 640;
    private const int Height = 240;
    private const int Left = 60;
    private const int Right = 16;
    private const int Top = 14;
    private const int Bottom = 36;
    private const int SeriesColours = 8;
    private const int Ticks = 4;
    private const string ScriptPlaceholder = "SPECFN-DASHBOARD-SCRIPT";

    // No '<', '>' or '&' in the CSS: the style element is raw text to an HTML parser but escaped text in XML.
    private const string Css = """
        :root { color-scheme: light; }
        body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; margin: 16px; color: #1f2328; background: #fff; max-width: 1100px; }
        h1 { font-size: 21px; margin: 0 0 4px 0; }
        h2 { font-size: 17px; margin: 24px 0 8px 0; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
        h3 { font-size: 14px; margin: 14px 0 4px 0; color: #57606a; }
        p.meta, p.note { color: #57606a; font-size: 13px; margin: 0 0 10px 0; }
        div.table-scroll { overflow-x: auto; max-width: 100%; }
        table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
        caption { text-align: left; font-size: 12px; color: #57606a; padding: 2px 0; }
        th, td { border: 1px solid #d0d7de; padding: 3px 6px; text-align: right; white-space: nowrap; }
        th { background: #f6f8fa; font-weight: 600; }
        td.text, th.text { text-align: left; }
        td.regressed { background: #ffebe9; }
        td.promoted { background: #dafbe1; }
        progress { width: 64px; vertical-align: middle; }
        svg.chart { display: block; width: 100%; max-width: 640px; height: auto; margin: 4px 0; }
        svg.chart text { font-size: 11px; fill: #1f2328; }
        svg.chart .grid { stroke: #eaeef2; stroke-width: 1; }
        svg.chart .axis { stroke: #57606a; stroke-width: 1; }
        svg.chart .series { fill: none; stroke-width: 1.5; }
        svg.chart .ci { stroke-width: 1.5; }
        svg.chart .marker.regression { stroke: #cf222e; stroke-width: 2; stroke-dasharray: 5 3; }
        svg.chart .marker.promotion { stroke: #1a7f37; stroke-width: 2; stroke-dasharray: 2 2; }
        svg.chart .c0 { stroke: #0969da; fill: #0969da; }
        svg.chart .c1 { stroke: #bf8700; fill: #bf8700; }
        svg.chart .c2 { stroke: #8250df; fill: #8250df; }
        svg.chart .c3 { stroke: #1a7f37; fill: #1a7f37; }
        svg.chart .c4 { stroke: #cf222e; fill: #cf222e; }
        svg.chart .c5 { stroke: #57606a; fill: #57606a; }
        svg.chart .c6 { stroke: #bc4c00; fill: #bc4c00; }
        svg.chart .c7 { stroke: #0550ae; fill: #0550ae; }
        svg.chart .series.c0, svg.chart .series.c1, svg.chart .series.c2, svg.chart .series.c3, svg.chart .series.c4, svg.chart .series.c5, svg.chart .series.c6, svg.chart .series.c7 { fill: none; }
        ul.legend { list-style: none; padding: 0; margin: 2px 0 8px 0; font-size: 12px; display: flex; flex-wrap: wrap; gap: 4px 14px; }
        ul.legend span.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }
        .sw0 { background: #0969da; } .sw1 { background: #bf8700; } .sw2 { background: #8250df; } .sw3 { background: #1a7f37; }
        .sw4 { background: #cf222e; } .sw5 { background: #57606a; } .sw6 { background: #bc4c00; } .sw7 { background: #0550ae; }
        .sw-regression { border-top: 2px dashed #cf222e; height: 0 !important; }
        .sw-promotion { border-top: 2px dotted #1a7f37; height: 0 !important; }
        @media (max-width: 480px) { body { margin: 8px; } th, td { padding: 2px 4px; } }
        """;

    // Polls the status route of every running row; the function key (?code=) of the page travels on each fetch and on
    // the report links. Plain DOM, no framework. Injected verbatim (not XML-escaped).
    private const string Script = """
        (function () {
          'use strict';
          var code = new URLSearchParams(window.location.search).get('code');
          var poll = Number(document.body.getAttribute('data-poll-ms')) || 5000;
          function keyed(url) {
            if (!code) { return url; }
            return url + (url.indexOf('?') === -1 ? '?' : '&') + 'code=' + encodeURIComponent(code);
          }
          Array.prototype.forEach.call(document.querySelectorAll('a[data-keyed]'), function (a) {
            a.setAttribute('href', keyed(a.getAttribute('href')));
          });
          function show(row, done, total, status, phase) {
            var bar = row.querySelector('progress');
            var text = row.querySelector('.progress-text');
            if (total > 0) { bar.max = total; bar.value = done; }
            text.textContent = done + '/' + total;
            row.querySelector('.status').textContent = status;
            if (phase) { row.querySelector('.phase').textContent = phase; }
            row.setAttribute('data-status', status);
          }
          function update(row) {
            return fetch(keyed('evaluations/' + encodeURIComponent(row.getAttribute('data-run'))), { headers: { Accept: 'application/json' } })
              .then(function (response) {
                if (!response.ok) { throw new Error('HTTP ' + response.status); }
                return response.json();
              })
              .then(function (body) {
                var progress = body.progress || {};
                var done = typeof progress.tasksDone === 'number' ? progress.tasksDone : Number(row.getAttribute('data-done'));
                var total = typeof progress.tasksTotal === 'number' ? progress.tasksTotal : Number(row.getAttribute('data-total'));
                var running = ['Pending', 'Running', 'Suspended'].indexOf(body.runtimeStatus) !== -1;
                show(row, done, total, body.runtimeStatus, progress.phase);
                row.setAttribute('data-polls', String(Number(row.getAttribute('data-polls') || '0') + 1));
                if (!running) { row.setAttribute('data-live', 'false'); }
              })
              .catch(function (error) {
                row.setAttribute('data-live', 'false');
                row.querySelector('.live-note').textContent = ' (live status unavailable: ' + error.message + ')';
              });
          }
          function tick() {
            var rows = document.querySelectorAll('tr[data-live="true"]');
            if (rows.length === 0) { return; }
            Promise.all(Array.prototype.map.call(rows, update)).then(function () { window.setTimeout(tick, poll); });
          }
          tick();
        })();
        """;

    /// <summary>The page (UTF-8 text) of <paramref name="trends"/> and, when given, the runs table.</summary>
    public static string Write(IReadOnlyList<SuiteTrend> trends, DashboardPageOptions options)
    {
        ArgumentNullException.ThrowIfNull(trends);
        ArgumentNullException.ThrowIfNull(options);
        var body = new XElement(H + "body", new XAttribute("data-poll-ms", options.PollMilliseconds.ToString(CultureInfo.InvariantCulture)), Body(trends, options));
        if (options.Live)
        {
            body.Add(new XElement(H + "script", ScriptPlaceholder));
        }

        var html = new XElement(H + "html", new XAttribute("lang", "en"),
            new XElement(H + "head",
                new XElement(H + "meta", new XAttribute("charset", "utf-8")),
                new XElement(H + "meta", new XAttribute("name", "viewport"), new XAttribute("content", "width=device-width, initial-scale=1")),
                new XElement(H + "title", options.Title),
                // An empty icon: the browser does not ask the app for /favicon.ico (a 404 in the console).
                new XElement(H + "link", new XAttribute("rel", "icon"), new XAttribute("href", "data:,")),
                new XElement(H + "style", Css)),
            body);

        return HtmlDocument.Write(html).Replace(ScriptPlaceholder, Script).Append('\n').ToString();
    }

    /// <summary>Writes <see cref="Write"/>'s page as UTF-8 without a byte-order mark.</summary>
    public static Task WriteAsync(IReadOnlyList<SuiteTrend> trends, DashboardPageOptions options, Stream output, CancellationToken cancellationToken = default) =>
        HtmlDocument.WriteUtf8Async(Write(trends, options), output, cancellationToken);

    private static IEnumerable<XElement> Body(IReadOnlyList<SuiteTrend> trends, DashboardPageOptions options)
    {
        yield return new XElement(H + "h1", options.Title);
        if (options.Runs is { } runs)
        {
            yield return RunsSection(runs, options);
        }

        yield return new XElement(H + "h2", new XAttribute("id", "trends"), "Audit trends");
        if (trends.Count == 0)
        {
            yield return new XElement(H + "p", new XAttribute("class", "note"), "No audit suite yet: register one (PUT /api/audit/suites/{name}) and the nightly audit re-runs it.");
        }

        for (var i = 0; i < trends.Count; i++)
        {
            yield return TrendSection(trends[i], i, options);
        }
    }

    private static XElement RunsSection(RunPage page, DashboardPageOptions options)
    {
        var section = new XElement(H + "section", new XAttribute("id", "runs"), new XElement(H + "h2", "Runs"));
        if (page.Runs.Count == 0)
        {
            section.Add(new XElement(H + "p", new XAttribute("class", "note"), "No runs in the store yet."));
            return section;
        }

        var head = new XElement(H + "tr",
            new[] { "run", "suite", "pair", "status", "phase", "progress", "U", "worst task", "created (UTC)", "finished (UTC)" }
                .Select((c, i) => new XElement(H + "th", new XAttribute("scope", "col"), i is 0 or 1 or 2 or 3 or 4 or 7 ? new XAttribute("class", "text") : null, c)));
        var rows = page.Runs.Select(run =>
        {
            var live = options.Live && run.Status == RunStatuses.Running;
            var href = options.ReportHref(run.RunId);
            object runCell = run.FinishedAt is not null && href is not null
                ? new XElement(H + "a", new XAttribute("href", href), options.Live ? new XAttribute("data-keyed", "true") : null, run.RunId)
                : run.RunId;
            return new XElement(H + "tr",
                new XAttribute("data-run", run.RunId),
                new XAttribute("data-status", run.Status),
                new XAttribute("data-done", run.TasksDone.ToString(CultureInfo.InvariantCulture)),
                new XAttribute("data-total", run.TasksTotal.ToString(CultureInfo.InvariantCulture)),
                live ? new XAttribute("data-live", "true") : null,
                new XElement(H + "td", new XAttribute("class", "text"), runCell),
                new XElement(H + "td", new XAttribute("class", "text"), run.Suite ?? "–"),
                new XElement(H + "td", new XAttribute("class", "text"), $"{run.Drafter} → {run.Verifier}"),
                new XElement(H + "td", new XAttribute("class", "text status"), run.Status),
                new XElement(H + "td", new XAttribute("class", "text phase"), run.Phase),
                new XElement(H + "td", new XAttribute("class", "progress"),
                    new XElement(H + "progress",
                        new XAttribute("max", Math.Max(1, run.TasksTotal).ToString(CultureInfo.InvariantCulture)),
                        new XAttribute("value", run.TasksDone.ToString(CultureInfo.InvariantCulture)),
                        new XAttribute("aria-label", $"tasks done of {run.RunId}")),
                    " ",
                    new XElement(H + "span", new XAttribute("class", "progress-text"), $"{run.TasksDone}/{run.TasksTotal}"),
                    new XElement(H + "span", new XAttribute("class", "live-note"))),
                new XElement(H + "td", run.Unfairness is { } u ? G(u) : "–"),
                new XElement(H + "td", new XAttribute("class", "text"), run.WorstTask ?? "–"),
                new XElement(H + "td", Time(run.CreatedAt)),
                new XElement(H + "td", run.FinishedAt is { } f ? Time(f) : "–"));
        });
        section.Add(new XElement(H + "div", new XAttribute("class", "table-scroll"),
            new XElement(H + "table", new XAttribute("id", "runs-table"),
                new XElement(H + "caption", page.HasMore
                    ? $"Newest first, page {page.Page} ({page.Runs.Count} runs; more on the next page)."
                    : $"Newest first, page {page.Page} ({page.Runs.Count} runs)."),
                new XElement(H + "thead", head),
                new XElement(H + "tbody", rows))));
        if (options.Live)
        {
            section.Add(new XElement(H + "p", new XAttribute("class", "note"),
                $"Running runs update every {options.PollMilliseconds / 1000.0:0.#} s from the status route."));
        }

        return section;
    }

    private static XElement TrendSection(SuiteTrend trend, int index, DashboardPageOptions options)
    {
        var id = $"suite-{index}";
        var section = new XElement(H + "section",
            new XAttribute("class", "suite-trend"),
            new XAttribute("id", id),
            new XAttribute("data-suite", trend.Suite),
            new XElement(H + "h2", $"Suite {trend.Suite}"));
        var regressions = trend.Points.Count(p => p.Regressed);
        var promotions = trend.Points.Count(p => p.Promoted);
        section.Add(new XElement(H + "p", new XAttribute("class", "meta"),
            $"{trend.Points.Count} audits with a report" +
            (trend.RunsWithoutReport.Count > 0 ? $", {trend.RunsWithoutReport.Count} without one yet" : string.Empty) +
            $" · regression check fired {regressions}× · mitigation promoted {promotions}×"));
        if (trend.Points.Count == 0)
        {
            section.Add(new XElement(H + "p", new XAttribute("class", "note"), "No audit of this suite has a report yet."));
            return section;
        }

        var tasks = trend.TaskIds;
        section.Add(new XElement(H + "h3", new XAttribute("id", id + "-u-title"), "Unfairness U (nats²) per audit"));
        section.Add(Chart(trend, id + "-u", id + "-table", "trend-u", [("U", p => (p.Unfairness, null, null))]));
        section.Add(Legend([("U", 0)], trend));
        section.Add(new XElement(H + "h3", new XAttribute("id", id + "-speedup-title"), "Measured speed-up per task, with its 95% interval"));
        var series = tasks.Select(task => (task, (Func<TrendPoint, (double?, double?, double?)>)(p =>
            p.Tasks.FirstOrDefault(t => t.TaskId == task) is { } t ? (t.Speedup, t.Lower, t.Upper) : (null, null, null)))).ToList();
        section.Add(Chart(trend, id + "-speedup", id + "-table", "trend-speedup", series));
        section.Add(Legend([.. tasks.Select((t, i) => (t, i))], trend));
        section.Add(TrendTable(trend, id, options));
        return section;
    }

    private static XElement Chart(
        SuiteTrend trend, string id, string tableId, string kind, IReadOnlyList<(string Series, Func<TrendPoint, (double? Value, double? Lower, double? Upper)> Read)> series)
    {
        var points = trend.Points;
        var values = series.SelectMany(s => points.Select(s.Read))
            .SelectMany(v => new[] { v.Value, v.Lower, v.Upper })
            .Where(v => v is { } x && double.IsFinite(x))
            .Select(v => v!.Value)
            .ToList();
        var (low, high) = Range(values);
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        double X(int i) => Left + ((i + 0.5) * plotWidth / points.Count);
        double Y(double v) => Top + ((high - v) / (high - low) * plotHeight);

        var svg = new XElement(S + "svg",
            new XAttribute("id", id),
            new XAttribute("class", "chart " + kind),
            new XAttribute("viewBox", $"0 0 {Width} {Height}"),
            new XAttribute("role", "img"),
            new XAttribute("aria-labelledby", id + "-title"),
            new XAttribute("aria-describedby", tableId));

        for (var t = 0; t <= Ticks; t++)
        {
            var v = low + ((high - low) * t / Ticks);
            svg.Add(new XElement(S + "line", new XAttribute("class", "grid"), A("x1", Left), A("x2", Width - Right), A("y1", Y(v)), A("y2", Y(v))));
            svg.Add(new XElement(S + "text", A("x", Left - 4), A("y", Y(v) + 4), new XAttribute("text-anchor", "end"), G(v)));
        }

        svg.Add(new XElement(S + "line", new XAttribute("class", "axis"), A("x1", Left), A("x2", Left), A("y1", Top), A("y2", Top + plotHeight)));
        svg.Add(new XElement(S + "line", new XAttribute("class", "axis"), A("x1", Left), A("x2", Width - Right), A("y1", Top + plotHeight), A("y2", Top + plotHeight)));
        var labelEvery = Math.Max(1, (int)Math.Ceiling(points.Count / 6.0));
        for (var i = 0; i < points.Count; i++)
        {
            if (i % labelEvery == 0 || i == points.Count - 1)
            {
                svg.Add(new XElement(S + "text", A("x", X(i)), A("y", Top + plotHeight + 14), new XAttribute("text-anchor", "middle"),
                    points[i].GeneratedAt.UtcDateTime.ToString("MM-dd HH:mm", CultureInfo.InvariantCulture)));
            }

            if (points[i].Regressed)
            {
                svg.Add(Marker("regression", points[i], X(i), $"regression check fired: {string.Join("; ", points[i].RegressionReasons)}"));
            }

            if (points[i].Promoted)
            {
                svg.Add(Marker("promotion", points[i], X(i) + (points[i].Regressed ? 3 : 0), $"mitigation promoted ({points[i].PromotedStrategy})"));
            }
        }

        svg.Add(new XElement(S + "text", A("x", Left + (plotWidth / 2.0)), A("y", Height - 4), new XAttribute("text-anchor", "middle"), "audit (report date, UTC)"));

        for (var s = 0; s < series.Count; s++)
        {
            var colour = "c" + (s % SeriesColours).ToString(CultureInfo.InvariantCulture);
            var read = points.Select(series[s].Read).ToList();
            var line = string.Join(' ', read.Select((v, i) => (v, i)).Where(p => p.v.Value is { } x && double.IsFinite(x))
                .Select(p => $"{N(X(p.i))},{N(Y(p.v.Value!.Value))}"));
            if (line.Contains(' ', StringComparison.Ordinal))
            {
                svg.Add(new XElement(S + "polyline", new XAttribute("class", "series " + colour), new XAttribute("data-series", series[s].Series), new XAttribute("points", line)));
            }

            for (var i = 0; i < read.Count; i++)
            {
                var (value, lower, upper) = read[i];
                if (value is not { } v || !double.IsFinite(v))
                {
                    continue;
                }

                if (lower is { } lo && upper is { } hi && double.IsFinite(lo) && double.IsFinite(hi))
                {
                    svg.Add(new XElement(S + "line", new XAttribute("class", "ci " + colour),
                        new XAttribute("data-run", points[i].RunId), new XAttribute("data-series", series[s].Series),
                        new XAttribute("data-lower", R(lo)), new XAttribute("data-upper", R(hi)),
                        A("x1", X(i)), A("x2", X(i)), A("y1", Y(lo)), A("y2", Y(hi))));
                }

                svg.Add(new XElement(S + "circle", new XAttribute("class", "point " + colour),
                    new XAttribute("data-run", points[i].RunId), new XAttribute("data-series", series[s].Series), new XAttribute("data-value", R(v)),
                    A("cx", X(i)), A("cy", Y(v)), new XAttribute("r", "3.5"),
                    new XElement(S + "title", $"{series[s].Series} · {points[i].RunId}: {F(v, 4)}" + (lower is { } l && upper is { } u ? $" [{F(l, 4)}, {F(u, 4)}]" : string.Empty))));
            }
        }

        return svg;

        XElement Marker(string kind, TrendPoint point, double x, string title) => new(S + "line",
            new XAttribute("class", "marker " + kind), new XAttribute("data-run", point.RunId),
            A("x1", x), A("x2", x), A("y1", Top), A("y2", Top + plotHeight),
            new XElement(S + "title", title));
    }

    private static XElement Legend(IReadOnlyList<(string Name, int Index)> series, SuiteTrend trend)
    {
        var items = series.Select(s => new XElement(H + "li",
            new XElement(H + "span", new XAttribute("class", "swatch sw" + (s.Index % SeriesColours).ToString(CultureInfo.InvariantCulture))), s.Name)).ToList();
        if (trend.Points.Any(p => p.Regressed))
        {
            items.Add(new XElement(H + "li", new XElement(H + "span", new XAttribute("class", "swatch sw-regression")), "regression check fired"));
        }

        if (trend.Points.Any(p => p.Promoted))
        {
            items.Add(new XElement(H + "li", new XElement(H + "span", new XAttribute("class", "swatch sw-promotion")), "mitigation promoted"));
        }

        return new XElement(H + "ul", new XAttribute("class", "legend"), items);
    }

    private static XElement TrendTable(SuiteTrend trend, string id, DashboardPageOptions options)
    {
        var tasks = trend.TaskIds;
        var head = new XElement(H + "tr",
            new XElement(H + "th", new XAttribute("scope", "col"), new XAttribute("class", "text"), "run"),
            new XElement(H + "th", new XAttribute("scope", "col"), "report (UTC)"),
            new XElement(H + "th", new XAttribute("scope", "col"), "U"),
            tasks.Select(t => new XElement(H + "th", new XAttribute("scope", "col"), $"{t} speed-up [95% interval]")),
            new XElement(H + "th", new XAttribute("scope", "col"), new XAttribute("class", "text"), "events"));
        var rows = trend.Points.Select(p =>
        {
            var href = options.ReportHref(p.RunId);
            var events = new List<string>();
            if (p.Regressed)
            {
                events.Add("regression: " + string.Join("; ", p.RegressionReasons));
            }

            if (p.Promoted)
            {
                events.Add($"mitigation promoted ({p.PromotedStrategy})");
            }

            return new XElement(H + "tr", new XAttribute("data-run", p.RunId),
                new XElement(H + "th", new XAttribute("scope", "row"), new XAttribute("class", "text"),
                    href is null ? p.RunId : new XElement(H + "a", new XAttribute("href", href), options.Live ? new XAttribute("data-keyed", "true") : null, p.RunId)),
                new XElement(H + "td", Time(p.GeneratedAt)),
                new XElement(H + "td", new XAttribute("data-series", "U"), new XAttribute("data-value", R(p.Unfairness)), G(p.Unfairness)),
                tasks.Select(task =>
                {
                    var point = p.Tasks.FirstOrDefault(t => t.TaskId == task);
                    return point?.Speedup is { } s
                        ? new XElement(H + "td", new XAttribute("data-series", task), new XAttribute("data-value", R(s)),
                            F(s, 3) + (point.Lower is { } lo && point.Upper is { } hi ? $" [{F(lo, 3)}, {F(hi, 3)}]" : string.Empty))
                        : new XElement(H + "td", new XAttribute("data-series", task), "–");
                }),
                new XElement(H + "td",
                    new XAttribute("class", "text" + (p.Regressed ? " regressed" : string.Empty) + (p.Promoted ? " promoted" : string.Empty)),
                    events.Count == 0 ? "–" : string.Join(" · ", events)));
        });
        return new XElement(H + "div", new XAttribute("class", "table-scroll"),
            new XElement(H + "table", new XAttribute("class", "trend-table"), new XAttribute("id", id + "-table"),
                new XElement(H + "caption", $"Suite {trend.Suite}: the charts' figures, oldest audit first (U in nats²; measured speed-ups, – where a run timed no baseline)."),
                new XElement(H + "thead", head),
                new XElement(H + "tbody", rows)));
    }

    /// <summary>A range over <paramref name="values"/> that is never empty and ends on round ticks (1, 2 or 5 × 10^k apart, <see cref="Ticks"/> of them).</summary>
    private static (double Low, double High) Range(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return (0, 1);
        }

        var low = values.Min();
        var high = values.Max();
        if (high <= low)
        {
            var pad = Math.Max(Math.Abs(high) * 0.1, 0.01);
            (low, high) = (low - pad, high + pad);
        }

        var raw = (high - low) / Ticks;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1.0, 2.0, 2.5, 5.0, 10.0 }.Select(m => m * magnitude).First(s => s >= raw);
        for (; ; step = NextStep(step))
        {
            var start = Math.Floor(low / step) * step;
            if (start + (Ticks * step) >= high)
            {
                return (start, start + (Ticks * step));
            }
        }
    }

    private static double NextStep(double step)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(step) + 1e-9));
        var mantissa = Math.Round(step / magnitude, 1);
        return mantissa switch { < 2 => 2 * magnitude, < 2.5 => 2.5 * magnitude, < 5 => 5 * magnitude, _ => 10 * magnitude };
    }

    private static XAttribute A(string name, double value) => new(name, N(value));

    private static string N(double value) => Math.Round(value, 2).ToString("0.##", CultureInfo.InvariantCulture);

    private static string R(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string G(double value) => double.IsFinite(value) ? value.ToString("G4", CultureInfo.InvariantCulture) : "–";

    private static string F(double value, int digits) => double.IsFinite(value)
        ? value.ToString("F" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)
        : "–";

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
}
