import Testing
@testable import Observability

/// CRC-32C against the published vectors (RFC 3720 appendix B.4 and the common "123456789"
/// check value), and the TFRecord mask against values from TensorBoard's own implementation.
@Suite struct CRC32CTests {
    @Test func matchesPublishedVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test func masksAsTensorFlowDoes() {
        // masked_crc32c(b"123456789") and masked_crc32c of eight zero bytes, from TensorBoard's
        // pure-Python implementation.
        #expect(CRC32C.maskedChecksum(Array("123456789".utf8)) == 0xC78A_B0E5)
        #expect(CRC32C.maskedChecksum([UInt8](repeating: 0, count: 8)) == 0x0798_0329)
        #expect(CRC32C.masked(0) == 0xA282_EAD8)
    }
}
