extension String {
    /// The string made safe to put in one log line: control characters (newlines, carriage
    /// returns, tabs, ESC and the rest of C0, DEL, C1) and the Unicode line and paragraph
    /// separators are written as escapes (`\n`, `\u{1B}`), and a backslash as `\\`, so that the
    /// escaped form is unambiguous.
    ///
    /// Use it for every string a peer supplied (a worker's leave text, a host name, a rejection
    /// reason): unescaped, a peer could forge log lines or send terminal escape sequences to
    /// whoever reads the log. Strings without any such character are returned unchanged, cheaply.
    public var escapedForLog: String {
        if !unicodeScalars.contains(where: Self.needsEscape) { return self }
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for scalar in unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where Self.needsEscape(scalar): out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029 || scalar == "\\"
    }
}
