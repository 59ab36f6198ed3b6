import Foundation

/// Line charts as self-contained SVG text (no scripts, fonts or external references), for the
/// run report and anything else that wants a loss curve in a file or a page.
public enum SVGPlot {
    /// One named line.
    public typealias Series = (name: String, points: [(x: Double, y: Double)])

    /// Colours of the lines, in order; they repeat after eight series.
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// A chart of `series` with axes, tick labels on "nice" values (1, 2 or 5 times a power of
    /// ten), axis labels and a legend. Each series becomes one `<path>`; non-finite points break
    /// the line instead of bending it to infinity. With no finite point at all the chart shows
    /// empty axes over 0...1.
    ///
    /// - Parameters:
    ///   - width, height: the SVG's size in pixels.
    ///   - logY: a base-10 log scale on y (values ≤ 0 are then skipped), for losses that fall
    ///     over orders of magnitude.
    public static func lines(series: [Series], title: String, xLabel: String, yLabel: String,
                             width: Int = 640, height: Int = 400, logY: Bool = false) -> String {
        let transform: (Double) -> Double = logY ? { $0 > 0 ? log10($0) : .nan } : { $0 }
        let finite = series.map { $0.points.map { (x: $0.x, y: transform($0.y)) } }
        let xs = finite.flatMap { $0.filter { $0.x.isFinite && $0.y.isFinite }.map(\.x) }
        let ys = finite.flatMap { $0.filter { $0.x.isFinite && $0.y.isFinite }.map(\.y) }
        let xTicks = ticks(low: xs.min() ?? 0, high: xs.max() ?? 1)
        let yTicks = ticks(low: ys.min() ?? 0, high: ys.max() ?? 1)
        let (x0, x1) = (xTicks.first!, xTicks.last!)
        let (y0, y1) = (yTicks.first!, yTicks.last!)

        let left = 70.0, right = Double(width) - 20, top = 40.0, bottom = Double(height) - 50
        let px = { (x: Double) in left + (x - x0) / (x1 - x0) * (right - left) }
        let py = { (y: Double) in bottom - (y - y0) / (y1 - y0) * (bottom - top) }

        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)" font-family="sans-serif" font-size="12">"# + "\n"
        svg += #"<rect width="100%" height="100%" fill="white"/>"# + "\n"
        svg += #"<text x="\#(Double(width) / 2)" y="22" text-anchor="middle" font-size="15">\#(escape(title))</text>"# + "\n"
        svg += "<g class=\"grid\" stroke=\"#e5e5e5\">\n"
        for t in xTicks { svg += #"<line x1="\#(f(px(t)))" y1="\#(f(top))" x2="\#(f(px(t)))" y2="\#(f(bottom))"/>"# + "\n" }
        for t in yTicks { svg += #"<line x1="\#(f(left))" y1="\#(f(py(t)))" x2="\#(f(right))" y2="\#(f(py(t)))"/>"# + "\n" }
        svg += "</g>\n"
        svg += #"<g class="axes" stroke="black"><line x1="\#(f(left))" y1="\#(f(bottom))" x2="\#(f(right))" y2="\#(f(bottom))"/><line x1="\#(f(left))" y1="\#(f(top))" x2="\#(f(left))" y2="\#(f(bottom))"/></g>"# + "\n"
        svg += "<g class=\"ticks\">\n"
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
        let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        for t in xTicks {
            svg += #"<text x="\#(f(px(t)))" y="\#(f(bottom + 16))" text-anchor="middle">\#(label(t, step: xStep))</text>"# + "\n"
        }
        for t in yTicks {
            let text = logY ? label(pow(10, t), step: pow(10, t) / 10) : label(t, step: yStep)
            svg += #"<text x="\#(f(left - 6))" y="\#(f(py(t) + 4))" text-anchor="end">\#(text)</text>"# + "\n"
        }
        svg += "</g>\n"
        svg += #"<text x="\#(f((left + right) / 2))" y="\#(height - 12)" text-anchor="middle">\#(escape(xLabel))</text>"# + "\n"
        svg += #"<text x="16" y="\#(f((top + bottom) / 2))" text-anchor="middle" transform="rotate(-90 16 \#(f((top + bottom) / 2)))">\#(escape(yLabel + (logY ? " (log)" : "")))</text>"# + "\n"

        for (index, points) in finite.enumerated() {
            var d = "", pen = false
            for point in points {
                guard point.x.isFinite, point.y.isFinite else { pen = false; continue }
                d += (pen ? " L" : (d.isEmpty ? "M" : " M")) + "\(f(px(point.x))) \(f(py(point.y)))"
                pen = true
            }
            let color = palette[index % palette.count]
            svg += #"<path class="series" data-name="\#(escape(series[index].name))" d="\#(d)" fill="none" stroke="\#(color)" stroke-width="1.5"/>"# + "\n"
        }
        svg += "<g class=\"legend\">\n"
        for (index, item) in series.enumerated() {
            let y = top + 8 + Double(index) * 16
            let color = palette[index % palette.count]
            svg += #"<line x1="\#(f(right - 150))" y1="\#(f(y))" x2="\#(f(right - 130))" y2="\#(f(y))" stroke="\#(color)" stroke-width="2"/>"#
            svg += #"<text x="\#(f(right - 124))" y="\#(f(y + 4))">\#(escape(item.name))</text>"# + "\n"
        }
        svg += "</g>\n</svg>\n"
        return svg
    }

    /// Tick values covering `low...high`, about `target` of them, on multiples of 1, 2 or 5
    /// times a power of ten. The first and last ticks enclose the data (the axis range).
    static func ticks(low: Double, high: Double, target: Int = 5) -> [Double] {
        var (low, high) = (low, high)
        if high - low < 1e-12 * max(abs(low), abs(high), 1) {
            low -= max(abs(low) * 0.1, 0.5)
            high += max(abs(high) * 0.1, 0.5)
        }
        let rough = (high - low) / Double(max(target, 1))
        let magnitude = pow(10, (log10(rough)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        let first = (low / step).rounded(.down), last = (high / step).rounded(.up)
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// A tick label with as many decimals as the tick spacing needs.
    static func label(_ value: Double, step: Double) -> String {
        let decimals = max(0, Int((-log10(abs(step))).rounded(.up)))
        // Ticks computed as k * step can land a hair off zero; print those as 0, not -0.000.
        let rounded = abs(value) < abs(step) * 1e-6 ? 0 : value
        return String(format: "%.\(min(decimals, 10))f", rounded)
    }

    /// Coordinates with two decimals: sub-pixel precision without long float noise.
    private static func f(_ value: Double) -> String { String(format: "%.2f", value) }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}
