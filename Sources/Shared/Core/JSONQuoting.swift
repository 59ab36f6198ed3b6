/// JSON string literals for the files Grove writes by hand (safetensors headers, trace events),
/// where the order of keys is part of the format and a generic encoder would not keep it.
public enum JSONQuoting {
    /// `value` in double quotes with quotes, backslashes and control characters escaped; everything
    /// else (including non-ASCII) is written as UTF-8.
    public static func quoted(_ value: String) -> String {
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
}
