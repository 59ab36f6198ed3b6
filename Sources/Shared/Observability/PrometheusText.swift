/// Builds a page in the Prometheus text exposition format (version 0.0.4), the body of
/// `GET /metrics`:
///
/// ```
/// # HELP grove_workers Workers by membership status.
/// # TYPE grove_workers gauge
/// grove_workers{status="up"} 2
/// ```
///
/// Samples of one metric are grouped under one HELP/TYPE pair, in the order the metric was
/// first added. Names are checked against the format's grammar; label values are escaped.
public struct PrometheusText: Sendable {
    public enum MetricType: String, Sendable {
        case gauge
        case counter
    }

    private struct Family {
        var name: String
        var help: String
        var type: MetricType
        var samples: [String] = []
    }

    private var families: [Family] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// Adds a gauge sample: a value that goes up and down (step, loss, samples per second).
    public mutating func gauge(_ name: String, help: String, value: Double, labels: [(String, String)] = []) throws {
        try add(name, help: help, type: .gauge, value: value, labels: labels)
    }

    /// Adds a counter sample: a total that only grows (`grove_stale_messages_total`). By
    /// convention counter names end in `_total`.
    public mutating func counter(_ name: String, help: String, value: Double, labels: [(String, String)] = []) throws {
        try add(name, help: help, type: .counter, value: value, labels: labels)
    }

    /// The page; ends with a newline as the format requires.
    public func render() -> String {
        var out = ""
        for family in families {
            out += "# HELP \(family.name) \(Self.escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.type.rawValue)\n"
            for sample in family.samples { out += sample + "\n" }
        }
        return out
    }

    private mutating func add(_ name: String, help: String, type: MetricType, value: Double, labels: [(String, String)]) throws {
        guard Self.isValidMetricName(name) else {
            throw ObservabilityError(.invalidMetricName, "metric name '\(name)' is not [a-zA-Z_:][a-zA-Z0-9_:]*")
        }
        for (label, _) in labels where !Self.isValidLabelName(label) {
            throw ObservabilityError(.invalidMetricName, "label name '\(label)' of metric \(name) is not [a-zA-Z_][a-zA-Z0-9_]* (or starts with __)")
        }
        let position: Int
        if let existing = index[name] {
            guard families[existing].type == type else {
                throw ObservabilityError(.conflictingMetricType,
                                         "metric \(name) was added as a \(families[existing].type.rawValue) and now as a \(type.rawValue)")
            }
            position = existing
        } else {
            position = families.count
            index[name] = position
            families.append(Family(name: name, help: help, type: type))
        }
        var sample = name
        if !labels.isEmpty {
            sample += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabelValue($0.1))\"" }.joined(separator: ",") + "}"
        }
        sample += " " + Self.format(value)
        families[position].samples.append(sample)
    }

    /// Values as Go's `strconv.ParseFloat` reads them: `NaN`, `+Inf`, `-Inf`, integers without
    /// a fraction, and Swift's shortest round-tripping form otherwise.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func escapeHelp(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isLetter(first) || first == "_" || first == ":" else { return false }
        return name.unicodeScalars.allSatisfy { isLetter($0) || isDigit($0) || $0 == "_" || $0 == ":" }
    }

    static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isLetter(first) || first == "_", !name.hasPrefix("__") else { return false }
        return name.unicodeScalars.allSatisfy { isLetter($0) || isDigit($0) || $0 == "_" }
    }

    private static func isLetter(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) || ("A"..."Z").contains(s) }
    private static func isDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }
}
