import Core

/// Minimal JSON text output for the trace writer, which streams up to millions of small
/// objects: building `[String: Any]` trees for `JSONSerialization` would allocate per value and
/// lose key order.
enum JSONText {
    /// `value` as a quoted JSON string, escaping quotes, backslashes and control characters.
    static func quoted(_ value: String) -> String {
        JSONQuoting.quoted(value)
    }

    /// A JSON number; NaN and infinities, which JSON cannot spell, become `null`.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
