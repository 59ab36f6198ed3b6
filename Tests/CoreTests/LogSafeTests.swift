import Testing
import Core

@Suite struct LogSafeTests {
    @Test func plainTextIsUnchanged() {
        for text in ["", "worker w3 on host-7", "Überlingen — 東京", "tcp://[::1]:7070"] {
            #expect(text.escapedForLog == text)
        }
    }

    @Test func newlinesAndControlCharactersCannotForgeLinesOrDriveTheTerminal() {
        #expect("a\nb".escapedForLog == "a\\nb")
        #expect("a\r\nb\tc".escapedForLog == "a\\r\\nb\\tc")
        #expect("\u{1B}[2J\u{1B}]0;owned\u{07}".escapedForLog == "\\u{1B}[2J\\u{1B}]0;owned\\u{7}")
        #expect("x\u{7F}y\u{9B}z".escapedForLog == "x\\u{7F}y\\u{9B}z")
        #expect("\u{0}".escapedForLog == "\\u{0}")
        #expect("line\u{2028}sep\u{2029}".escapedForLog == "line\\u{2028}sep\\u{2029}")
    }

    @Test func backslashesAreEscapedSoTheFormIsUnambiguous() {
        // Without this, a peer could send the six characters "\u{1B}" and look like an escape.
        #expect("\\n".escapedForLog == "\\\\n")
        #expect("a\nb".escapedForLog != "a\\nb".escapedForLog)
    }

    @Test func everyScalarBelowSpaceIsEscaped() {
        for value in 0..<0x20 {
            let escaped = String(Character(Unicode.Scalar(UInt8(value)))).escapedForLog
            #expect(escaped.unicodeScalars.allSatisfy { $0.value >= 0x20 }, "U+\(value) -> \(escaped.debugDescription)")
            #expect(escaped.hasPrefix("\\"))
        }
    }
}
