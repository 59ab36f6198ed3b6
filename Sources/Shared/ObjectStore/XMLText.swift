import Foundation

/// The little XML S3 answers need read: the text of the first `<Tag>…</Tag>`, with the five
/// predefined entities decoded. Not a general XML parser (and needs no libxml2).
enum XMLText {
    static func first(_ tag: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(tag)>") else {
            if text.contains("<\(tag)/>") { return "" }
            return nil
        }
        guard let close = text.range(of: "</\(tag)>", range: open.upperBound..<text.endIndex) else { return nil }
        return unescape(String(text[open.upperBound..<close.lowerBound]))
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&#34;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
