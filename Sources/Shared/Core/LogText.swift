/// Text a peer supplied, made safe to print and bounded: `String.escapedForLog` (control
/// characters, newlines and terminal escapes shown as escapes, so a hostile host name cannot
/// forge log lines or drive a terminal), cut after `limit` characters.
public enum LogText {
    public static func escape(_ text: String, limit: Int = 256) -> String {
        guard text.count > limit else { return text.escapedForLog }
        return String(text.prefix(limit)).escapedForLog + "…"
    }
}
