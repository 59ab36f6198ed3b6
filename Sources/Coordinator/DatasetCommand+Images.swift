import ArgumentParser
import Dataset
import Foundation

/// Whole images for `predict`: a source image put back together from its catalogued tiles, and a
/// synthetic orchard rendered at any size. Each writes the image, its true canopy mask and a
/// world file (a north-up local frame in metres, origin at the image's top-left corner).
extension DatasetCommand {
    struct Mosaic: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a source image back together from its catalogued tiles (PNG, true mask, world file).")
        @OptionGroup var options: CatalogOptions
        @Option(name: .customLong("source-image"), help: "The source_image of the tiles (as in tiles.csv).") var sourceImage: String
        @Option(help: "Output image (PNG); the mask goes to NAME-mask.png, the world file to NAME.pgw.") var out: String

        func run() throws {
            var mosaic = try options.open().mosaic(of: sourceImage)
            // Sample files hold the GSD as float32: 0.1 comes back as 0.10000000149011612.
            mosaic.groundSampleDistance = Double(Float(mosaic.groundSampleDistance).description) ?? mosaic.groundSampleDistance
            let planes = TiledPlanes(width: mosaic.width, height: mosaic.height, bands: mosaic.bands, pixels: mosaic.pixels)
            try planes.writeImage(to: out, canopy: mosaic.canopy, gsd: mosaic.groundSampleDistance)
            print("\(sourceImage): \(mosaic.tiles.count) tiles placed in a \(mosaic.width)x\(mosaic.height) image at \(mosaic.groundSampleDistance) m/pixel")
            print("wrote \(out), \(TiledPlanes.maskPath(out)), \(TiledPlanes.worldFilePath(out))")
        }
    }

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render one synthetic orchard tile of any size to PNG (image, true mask, world file), outside the catalog.")
        @Option(help: "Seed of the synthetic stream.") var seed: UInt64 = 1
        @Option(help: "Sample index in that stream (its site fixes crop, spacing, resolution).") var index = 0
        @Option(help: "Side in pixels.") var size = 2048
        @Option(help: "Output image (PNG); the mask goes to NAME-mask.png, the world file to NAME.pgw.") var out: String

        func run() throws {
            var settings = OrchardSynth.Settings()
            settings.width = size
            settings.height = size
            let sample = try OrchardSynth(settings: settings).sample(seed: seed, index: index)
            let tile = sample.tile
            let rgb = Array(tile.pixels[0..<(3 * tile.pixelCount)])
            try TiledPlanes(width: tile.width, height: tile.height, bands: 3, pixels: rgb)
                .writeImage(to: out, canopy: tile.canopy, gsd: Double(tile.groundSampleDistance.description) ?? Double(tile.groundSampleDistance))
            let fraction = Double(tile.canopy.reduce(0) { $0 + Int($1) }) / Double(tile.pixelCount)
            print("seed \(seed) index \(index): \(sample.labels.crop), \(tile.width)x\(tile.height) at \(tile.groundSampleDistance) m/pixel, "
                  + "\(tile.trees.count) trees, canopy \(String(format: "%.1f", 100 * fraction)) %"
                  + (tile.bands > 3 ? "; its near-infrared band is not written (PNG RGB)" : ""))
            print("wrote \(out), \(TiledPlanes.maskPath(out)), \(TiledPlanes.worldFilePath(out))")
        }
    }
}

/// Band-major planes written as an RGB PNG with its mask and world file.
struct TiledPlanes {
    var width: Int, height: Int, bands: Int, pixels: [UInt8]

    static func maskPath(_ out: String) -> String { (out as NSString).deletingPathExtension + "-mask.png" }
    static func worldFilePath(_ out: String) -> String { (out as NSString).deletingPathExtension + ".pgw" }

    func writeImage(to out: String, canopy: [UInt8], gsd: Double) throws {
        let plane = width * height
        var interleaved = [UInt8](repeating: 0, count: plane * 3)
        for p in 0..<plane { for c in 0..<3 { interleaved[p * 3 + c] = pixels[min(c, bands - 1) * plane + p] } }
        try PNGImage(width: width, height: height, channels: 3, pixels: interleaved).write(to: out)
        try PNGImage(width: width, height: height, channels: 1, pixels: canopy.map { $0 != 0 ? 255 : 0 }).write(to: Self.maskPath(out))
        let world = WorldFile.northUp(pixelSize: gsd)
        do { try world.text.write(toFile: Self.worldFilePath(out), atomically: true, encoding: .utf8) } catch {
            throw ValidationError("cannot write \(Self.worldFilePath(out)): \(error.localizedDescription)")
        }
    }
}
