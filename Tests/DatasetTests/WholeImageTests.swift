@testable import Dataset
import Foundation
import Testing

/// PNG writing, world files and the mosaic of catalogued tiles: what `predict` reads and writes.
@Suite struct WholeImageTests {
    @Test func pngWrittenByGroveReadsBackByteForByte() throws {
        let directory = Fixtures.scratchDirectory()
        let rgb = (0..<(5 * 3 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        try PNGImage(width: 5, height: 3, channels: 3, pixels: rgb).write(to: directory + "/rgb.png")
        let back = try PNGImage.read(directory + "/rgb.png", as: .rgb)
        #expect(back.width == 5 && back.height == 3 && back.bytes == rgb)
        let grey: [UInt8] = [0, 255, 7, 128, 1, 2]
        try PNGImage(width: 2, height: 3, channels: 1, pixels: grey).write(to: directory + "/grey.png")
        #expect(try PNGImage.read(directory + "/grey.png", as: .gray).bytes == grey)
    }

    @Test func pngRefusesPlanesThatDoNotMatchTheSize() {
        #expect(throws: DatasetError.self) { try PNGImage(width: 4, height: 4, channels: 3, pixels: [0, 1]) }
        do {
            _ = try PNGImage(width: 2, height: 2, channels: 2, pixels: [UInt8](repeating: 0, count: 8))
            Issue.record("two channels were accepted")
        } catch { #expect(error.code == "png.channels" && error.message.contains("not 2")) }
    }

    @Test func worldFileMapsPixelCentresAndNamesABadLine() throws {
        let file = try WorldFile.parse("0.1\n0\n0\n-0.1\n541000.05\n4977999.95\n\n", origin: "yell.pgw")
        #expect(file == WorldFile(a: 0.1, d: 0, b: 0, e: -0.1, c: 541000.05, f: 4977999.95))
        // The centre of the top-left pixel is (C, F); its top-left corner is half a pixel off.
        let centre = file.map(x: 0.5, y: 0.5)
        #expect(centre.x == 541000.05 && centre.y == 4977999.95)
        let corner = file.map(x: 0, y: 0)
        #expect(abs(corner.x - 541000) < 1e-9 && abs(corner.y - 4978000) < 1e-9)
        #expect(abs(file.pixelArea - 0.01) < 1e-12)
        #expect(try WorldFile.parse(WorldFile.northUp(pixelSize: 0.25, originX: 10, originY: 20).text, origin: "x")
                == WorldFile.northUp(pixelSize: 0.25, originX: 10, originY: 20))
        do {
            _ = try WorldFile.parse("0.1\n0\n0\nminus\n1\n2\n", origin: "bad.pgw")
            Issue.record("a word was read as a number")
        } catch {
            #expect(error.code == "worldfile.number" && error.message.contains("bad.pgw line 4") && error.message.contains("'minus'"))
        }
        #expect(throws: DatasetError.self) { try WorldFile.parse("1\n2\n3\n", origin: "short.pgw") }
        #expect(throws: DatasetError.self) { try WorldFile.parse("0\n0\n0\n0\n1\n2\n", origin: "flat.pgw") }
    }

    @Test func mosaicPutsEveryTileBackAtItsOrigin() throws {
        let catalog = try Catalog(directory: Fixtures.scratchDirectory())
        _ = try catalog.import(tileDirectory: Fixtures.aerialSample)
        let image = "2019_YELL_2_541000_4977000_image_crop.png"
        let mosaic = try catalog.mosaic(of: image)
        // The YELL image is 9 x 8 tiles of 128 px.
        #expect(mosaic.width == 9 * 128 && mosaic.height == 8 * 128 && mosaic.tiles.count == 72 && mosaic.bands == 3)
        let record = try #require(try catalog.record(id: "YELL541_x0256_y0000"))
        let tile = try SampleFile.decode(try catalog.source.read(path: record.path), origin: record.path)
        let plane = mosaic.width * mosaic.height
        for (x, y) in [(0, 0), (127, 0), (5, 77), (127, 127)] {
            for band in 0..<3 {
                #expect(mosaic.pixels[band * plane + y * mosaic.width + 256 + x] == tile.pixels[band * tile.pixelCount + y * 128 + x])
            }
            #expect(mosaic.canopy[y * mosaic.width + 256 + x] == tile.canopy[y * 128 + x])
        }
        do {
            _ = try catalog.mosaic(of: "elsewhere.png")
            Issue.record("an unknown image gave a mosaic")
        } catch { #expect(error.code == "catalog.no-tiles" && error.message.contains("'elsewhere.png'") && error.message.contains(image)) }
    }
}
