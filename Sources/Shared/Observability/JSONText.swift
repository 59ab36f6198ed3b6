/// Minimal JSON text output for the trace writer, which streams up to millions of small
/// objects: building `[String: Any]` trees for `JSONSerialization` would allocate per value and
/// lose key order.
enum JSONText {
    /// `value` as a quoted JSON string, escaping quotes, backslashes and control characters.
    static func quoted(_ value: String) -> String {
        // Most names need no escaping; skip the per-scalar rebuild for them.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + value + "\""
        }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A JSON number; NaN and infinities, which JSON cannot spell, become `null`.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
