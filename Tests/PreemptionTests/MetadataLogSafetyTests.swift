import Testing
@testable import Preemption

/// What a metadata service (or whatever answers at its address) sends ends up in warnings: it is
/// escaped, so it cannot forge log lines or drive the terminal of whoever reads them.
@Suite struct MetadataLogSafetyTests {
    @Test func aBodyExcerptIsEscaped() {
        let response = MetadataResponse(status: 500, body: Array("boom\n2026-12-03 critical forged line\u{1B}[2J".utf8))
        let excerpt = response.excerpt()
        #expect(!excerpt.contains("\n") && !excerpt.contains("\u{1B}"))
        #expect(excerpt == "boom\\n2026-12-03 critical forged line\\u{1B}[2J")
    }

    @Test func aMalformedStatusLineIsEscapedInTheError() {
        let raw = Array("\u{1B}]0;owned\u{07} 200 OK\r\n\r\n".utf8)
        do {
            _ = try MetadataResponse.parse(raw, atEOF: true, origin: "http://169.254.169.254")
            Issue.record("parsed a status line that is not HTTP")
        } catch {
            #expect(error.code == "preempt.malformed")
            #expect(!error.message.contains("\u{1B}") && !error.message.contains("\u{07}"), "\(error.message)")
            #expect(error.message.contains("\\u{1B}]0;owned\\u{7}"), "\(error.message)")
        }
    }
}
