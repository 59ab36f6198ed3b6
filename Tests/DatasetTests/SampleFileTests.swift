@testable import Dataset
import Testing

@Suite struct SampleFileTests {
    func expectError(_ code: String, _ bytes: [UInt8], origin: String = "x/broken.gts.gz") {
        do {
            _ = try SampleFile.decode(bytes, origin: origin)
            Issue.record("decoding succeeded, expected \(code)")
        } catch {
            #expect(error.code == code)
            #expect(error.message.contains(origin))
        }
    }

    @Test(arguments: [3, 4])
    func roundTripKeepsEveryField(bands: Int) throws {
        let tile = Fixtures.tile(bands: bands)
        let (bytes, hash) = SampleFile.encodeWithContentHash(tile)
        let (decoded, decodedHash) = try SampleFile.decodeWithContentHash(bytes, origin: "mem")
        #expect(decoded == tile)
        #expect(decodedHash == hash)
        #expect(hash.count == 64)
    }

    @Test func roundTripWithoutTreesAndWithUnicodeID() throws {
        var tile = Fixtures.tile(id: "bäume-ø", width: 1, height: 1)
        tile.trees = []
        #expect(try SampleFile.decode(SampleFile.encode(tile), origin: "mem") == tile)
    }

    @Test func headerFieldsSitAtTheirDocumentedOffsets() {
        let content = SampleFile.content(Fixtures.tile(width: 12, height: 9, bands: 4))
        #expect(Array(content[0..<8]) == Array("GROVESMP".utf8))
        #expect(content[8] == 1 && content[9] == 0)        // version
        #expect(content[10] == 64)                          // header size
        #expect(content[12] == 12 && content[16] == 9)      // width, height
        #expect(content[20] == 4 && content[21] == 1)       // bands, dtype
        #expect(content[22] == 6)                           // id length of "t-0001"
        #expect(content[28] == 2)                           // trees
        let payload = 6 + 12 * 9 * 4 + 12 * 9 + 2 * 12 * 9 + 2 * 20
        #expect(content.count == 64 + payload + 32)
        #expect(Int(content[32]) | Int(content[33]) << 8 == payload)
    }

    @Test func sameTileSameBytesAndDifferentTileDifferentHash() {
        let a = SampleFile.encodeWithContentHash(Fixtures.tile(seed: 1))
        let b = SampleFile.encodeWithContentHash(Fixtures.tile(seed: 1))
        let c = SampleFile.encodeWithContentHash(Fixtures.tile(seed: 2))
        #expect(a.bytes == b.bytes)
        #expect(a.contentHash != c.contentHash)
    }

    @Test func checkRefusesTilesTheFormatCannotHold() throws {
        try SampleFile.check(Fixtures.tile())
        var tile = Fixtures.tile(width: 2, height: 2, bands: 1)
        tile.bands = 9
        tile.pixels = [UInt8](repeating: 0, count: 9 * 4)
        #expect(throws: DatasetError.self) { try SampleFile.check(tile) }
        var flat = Fixtures.tile()
        flat.groundSampleDistance = 0
        #expect(throws: DatasetError.self) { try SampleFile.check(flat) }
    }

    @Test func rejectsDataThatIsNotGzip() {
        expectError("sample.not-gzip", Array("GROVESMP not compressed".utf8))
        expectError("sample.not-gzip", [])
    }

    @Test func rejectsBadMagic() {
        var content = SampleFile.content(Fixtures.tile())
        content[0] = UInt8(ascii: "X")
        expectError("sample.bad-magic", Gzip.compress(content))
    }

    @Test func rejectsUnknownVersion() {
        var content = SampleFile.content(Fixtures.tile())
        content[8] = 2
        expectError("sample.unknown-version", Gzip.compress(content))
    }

    /// Header patches (offset, new bytes) and the error each must cause. Offsets: 12 width,
    /// 16 height, 20 bands, 21 dtype, 24 gsd, 28 tree count, 32 payload length.
    static let badHeaders: [(Int, [UInt8], String)] = [
        (12, [0x00, 0x00, 0x01, 0x00], "sample.impossible-size"),   // width 65536
        (12, [0xFF, 0xFF, 0xFF, 0xFF], "sample.impossible-size"),   // width 4 G: never allocated
        (16, [0x00], "sample.impossible-size"),                     // height 0
        (20, [0x00], "sample.impossible-size"),                     // no bands
        (20, [0x09], "sample.impossible-size"),                     // 9 bands
        (21, [0x02], "sample.unknown-dtype"),
        (24, [0x00, 0x00, 0xC0, 0x7F], "sample.bad-value"),         // gsd NaN
        (28, [0x40], "sample.impossible-size"),                     // tree count disagrees with payload
        (32, [0x01], "sample.impossible-size"),                     // payload length disagrees
    ]

    @Test(arguments: badHeaders.indices)
    func rejectsImpossibleHeaders(case index: Int) {
        let (offset, patch, expected) = Self.badHeaders[index]
        var content = SampleFile.content(Fixtures.tile())
        content.replaceSubrange(offset..<offset + patch.count, with: patch)
        expectError(expected, Gzip.compress(content))
    }

    /// A header within the format's limits that claims far more content than its file can hold:
    /// 8 bands of 8192x8192 (755 MB of planes and targets) in about 100 bytes. It is refused from
    /// the header, before anything is allocated for the claimed sections (it used to allocate all
    /// of them and then fail as truncated).
    @Test func refusesAHeaderClaimingMoreThanTheCompressedBytesCanHold() throws {
        let layout = SampleFile.Layout(width: 8192, height: 8192, bands: 8, idBytes: 0, trees: 0)
        var content = SampleFile.content(Fixtures.tile())
        content.replaceSubrange(12..<16, with: [0x00, 0x20, 0x00, 0x00])
        content.replaceSubrange(16..<20, with: [0x00, 0x20, 0x00, 0x00])
        content[20] = 8
        content.replaceSubrange(22..<24, with: [0, 0])
        content.replaceSubrange(28..<32, with: [0, 0, 0, 0])
        withUnsafeBytes(of: UInt64(layout.payload).littleEndian) { content.replaceSubrange(32..<40, with: $0) }
        let file = Gzip.compress(Array(content.prefix(SampleFile.headerSize)) + [UInt8](repeating: 7, count: 32))
        #expect(file.count < 100)
        do {
            _ = try SampleFile.decode(file, origin: "x/huge.gts.gz")
            Issue.record("a header claiming \(layout.total) bytes decoded")
        } catch {
            #expect(error.code == "sample.impossible-size")
            #expect(error.message.contains("x/huge.gts.gz"))
            #expect(error.message.contains("\(layout.total) bytes"))
            #expect(error.message.contains("8192x8192, 8 bands"))
        }
    }

    @Test func acceptsContentAtTheLimitOfCompression() throws {
        // A tile of zeros compresses about as far as deflate goes; it must still decode.
        var tile = Fixtures.tile(width: 512, height: 512, bands: 8)
        tile.pixels = [UInt8](repeating: 0, count: tile.pixels.count)
        tile.canopy = [UInt8](repeating: 0, count: tile.canopy.count)
        tile.instances = [UInt16](repeating: 0, count: tile.instances.count)
        tile.trees = []
        let bytes = SampleFile.encode(tile)
        #expect(SampleFile.content(tile).count > 200 * bytes.count)
        #expect(try SampleFile.decode(bytes, origin: "zeros") == tile)
    }

    @Test func rejectsEveryTruncation() {
        let bytes = SampleFile.encode(Fixtures.tile())
        for cut in [0, 1, 2, 10, 20, bytes.count / 2, bytes.count - 9, bytes.count - 4, bytes.count - 1] {
            let expected = cut < 2 ? "sample.not-gzip" : "sample.truncated"
            expectError(expected, Array(bytes.prefix(cut)))
        }
    }

    @Test func rejectsContentThatDoesNotMatchItsTrailer() {
        var content = SampleFile.content(Fixtures.tile())
        content[64 + 6 + 5] ^= 0x01
        expectError("sample.checksum-mismatch", Gzip.compress(content))
    }

    @Test func rejectsDamagedCompressedBytes() {
        var bytes = SampleFile.encode(Fixtures.tile())
        bytes[bytes.count - 6] ^= 0x55        // inside the gzip CRC-32
        expectError("sample.corrupt", bytes)
    }

    @Test func rejectsBytesAfterTheGzipMember() {
        expectError("sample.trailing-bytes", SampleFile.encode(Fixtures.tile()) + [0, 1, 2])
    }

    @Test func rejectsContentLongerThanItsHeader() {
        let content = SampleFile.content(Fixtures.tile()) + [7]
        expectError("sample.too-long", Gzip.compress(content))
    }
}

@Suite struct SampleFileTrustTests {
    @Test func trustingTheTrailerStillCatchesDamageButNotAForgedTrailer() throws {
        var content = SampleFile.content(Fixtures.tile())
        content[64 + 6 + 5] ^= 0x01
        let forged = Gzip.compress(content)
        let trusted = try SampleFile.decodeWithContentHash(forged, origin: "f", verifyHash: false)
        #expect(trusted.contentHash == SampleFile.encodeWithContentHash(Fixtures.tile()).contentHash)
        #expect(throws: DatasetError.self) { try SampleFile.decodeWithContentHash(forged, origin: "f") }
        var damaged = SampleFile.encode(Fixtures.tile())
        damaged[damaged.count - 6] ^= 0x55
        #expect(throws: DatasetError.self) { try SampleFile.decodeWithContentHash(damaged, origin: "f", verifyHash: false) }
    }
}
