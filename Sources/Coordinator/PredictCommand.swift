import ArgumentParser
import Dataset
import Core
import Foundation
import Model

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Runs a CanopyNet checkpoint over a whole image: canopy mask, tree table (CSV, GeoJSON), overlay.",
        discussion: """
            The image (PNG, RGB) may have any size: it is cut into overlapping windows of --tile pixels, \
            of which only the centre (all but --margin pixels on each side) is used; with --stitch blend \
            (the default) the centres overlap by half and are averaged with weights that fall to zero \
            at their edges, so the map has no seams. Writes to --out: canopy.png (255 canopy, 0 not), canopy-probability.png, \
            trees.csv, trees.geojson, overlay.png and prediction.json. Coordinates are image pixels; \
            with a world file (--world-file, or IMAGE.pgw / IMAGE.wld beside the image) also map \
            coordinates in its frame. Crown areas are in m² when the pixel size is known (--gsd, or \
            the world file's pixel, taken to be in metres).
            """
    )

    @Option(name: .long, help: "A checkpoint directory (RUN_DIR/checkpoints/step-NNNNNN).")
    var checkpoint: String

    @Option(name: .long, help: "The image to predict on (PNG).")
    var image: String

    @Option(name: .long, help: "Directory for the outputs (created if missing).")
    var out: String

    @Option(name: .long, help: "The run's configuration (default: config.yaml of the checkpoint's run directory).")
    var config: String?

    @Option(name: .long, help: "Window side in pixels (a multiple of 2^model.depth).")
    var tile = 128

    @Option(name: .long, help: "Pixels of each window's border computed but not kept (a multiple of 2^model.depth).")
    var margin = 16

    @Option(name: .long, help: "blend: overlapping window centres averaged with tent weights (no seams, 4x the passes); crop: each pixel from one window's centre.")
    var stitch = "blend"

    @Option(name: .long, help: "Windows per forward pass.")
    var batch = 4

    @Option(name: .long, help: "Compute threads (results do not depend on it).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Metres per pixel, for crown areas (default: from the world file, else unknown).")
    var gsd: Double?

    @Option(name: .customLong("world-file"), help: "A world file georeferencing the image (default: IMAGE.pgw or IMAGE.wld if present).")
    var worldFile: String?

    @Option(name: .long, help: "The map's coordinate reference system, written into trees.geojson (e.g. EPSG:32612).")
    var crs: String?

    @Option(name: .long, help: "A true canopy mask (PNG, non-zero = canopy) of the same size: prints canopy IoU against it.")
    var truth: String?

    @Option(name: .long, help: "Score against --truth only inside X,Y,WIDTH,HEIGHT (pixels).")
    var region: String?

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads is \(threads); expected at least 1") }
        if let gsd, !(gsd > 0 && gsd.isFinite) { throw ValidationError("--gsd is \(gsd); expected a positive number of metres per pixel") }
        guard TiledPrediction.Settings.Mode(rawValue: stitch) != nil else {
            throw ValidationError("--stitch is '\(stitch)'; expected \(TiledPrediction.Settings.Mode.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        if region != nil && truth == nil { throw ValidationError("--region restricts the scoring against --truth; give --truth too") }
    }

    func run() throws {
        let clock = ContinuousClock(), began = clock.now
        let loaded = try CheckpointedCanopyNet.load(checkpoint: checkpoint, config: config, bands: nil, threads: threads)
        let png = try PNGImage.read(image, as: loaded.net.inputBands == 3 ? .rgb : .gray)
        let picture = TiledPrediction.Image(png: png)
        let world = try resolvedWorldFile()
        let pixelArea = try resolvedPixelArea(world: world)
        let tiling = TiledPrediction.Settings(tileSize: tile, margin: margin, batch: batch, mode: TiledPrediction.Settings.Mode(rawValue: stitch)!)
        do { try tiling.validate(alignment: 1 << loaded.net.settings.depth) } catch { throw ValidationError(error.message) }
        let (canopy, centres) = try loaded.net.predict(parameters: loaded.parameters, image: picture, tiling: tiling)
        let predicted = clock.now
        let extraction = InstanceExtraction()
        let trees = extraction.trees(canopy: canopy, centres: centres, width: picture.width, height: picture.height, groundSampleDistance: 1)
        let mask = canopy.map { $0 >= extraction.canopyThreshold }

        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let (w, h) = (picture.width, picture.height)
        try PNGImage(width: w, height: h, channels: 1, pixels: mask.map { $0 ? 255 : 0 }).write(to: out + "/canopy.png")
        try PNGImage(width: w, height: h, channels: 1, pixels: canopy.map { UInt8(($0 * 255).rounded()) }).write(to: out + "/canopy-probability.png")
        let table = TreeTable(trees: trees, pixelArea: pixelArea, worldFile: world)
        try write(table.csv, to: out + "/trees.csv")
        try write(table.geoJSON(crs: crs), to: out + "/trees.geojson")
        try PNGImage(width: w, height: h, channels: 3, pixels: PredictionOverlay.render(image: picture, canopy: mask, trees: trees))
            .write(to: out + "/overlay.png")

        let canopyPixels = mask.lazy.filter { $0 }.count
        var report: [String: Any] = [
            "checkpoint": loaded.path, "step": loaded.step, "model": loaded.net.schemaName, "image": image,
            "width": w, "height": h, "tile": tile, "margin": margin, "stitch": stitch,
            "windows": TiledPrediction(settings: tiling).windowCount(width: w, height: h),
            "predict_seconds": (predicted - began).inSeconds, "trees": trees.count,
            "canopy_fraction": Double(canopyPixels) / Double(w * h),
            "coordinates": world == nil ? "pixel" : "world file",
        ]
        if let pixelArea { report["canopy_area_m2"] = Double(canopyPixels) * pixelArea }
        print("\(loaded.net.schemaName), checkpoint step \(loaded.step): \(w)x\(h) image in \(report["windows"]!) window\(report["windows"] as? Int == 1 ? "" : "s") of \(tile) px (margin \(margin), \(stitch)), "
              + String(format: "%.1f s", (predicted - began).inSeconds))
        print("\(trees.count) trees, canopy \(String(format: "%.1f", 100 * Double(canopyPixels) / Double(w * h))) % of the image"
              + (pixelArea.map { String(format: " (%.1f m²)", Double(canopyPixels) * $0) } ?? ""))
        if let truth {
            let score = try scoreAgainstTruth(truth, mask: mask, width: w, height: h)
            report["truth"] = score
            print(String(format: "against %@: canopy IoU %.3f (all canopy %.3f) over %d pixels", truth,
                         score["canopy_iou"] as! Double, score["all_canopy_iou"] as! Double, score["pixels"] as! Int))
        }
        let json = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: URL(fileURLWithPath: out + "/prediction.json"))
        print("wrote \(out)/canopy.png, canopy-probability.png, trees.csv, trees.geojson, overlay.png, prediction.json")
    }

    func resolvedWorldFile() throws -> WorldFile? {
        if let worldFile { return try WorldFile.read(worldFile) }
        let base = (image as NSString).deletingPathExtension
        for candidate in [base + ".pgw", base + ".wld", image + "w"] where FileManager.default.fileExists(atPath: candidate) {
            return try WorldFile.read(candidate)
        }
        return nil
    }

    /// `--gsd` squared, else the world file's pixel area; the two must agree when both are given.
    func resolvedPixelArea(world: WorldFile?) throws -> Double? {
        switch (gsd, world) {
        case (nil, nil): return nil
        case (let gsd?, nil): return gsd * gsd
        case (nil, let world?): return world.pixelArea
        case (let gsd?, let world?):
            guard abs(world.pixelArea - gsd * gsd) <= 0.01 * gsd * gsd else {
                throw ValidationError("--gsd \(gsd) m disagrees with the world file's pixel (\(world.pixelArea.squareRoot()) units); give one of them")
            }
            return gsd * gsd
        }
    }

    func scoreAgainstTruth(_ path: String, mask: [Bool], width: Int, height: Int) throws -> [String: Any] {
        let truthImage = try PNGImage.read(path, as: .gray)
        guard truthImage.width == width, truthImage.height == height else {
            throw ValidationError("--truth \(path) is \(truthImage.width)x\(truthImage.height); the image is \(width)x\(height)")
        }
        var (x0, y0, x1, y1) = (0, 0, width, height)
        if let region {
            let parts = region.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 4, let rx = parts[0], let ry = parts[1], let rw = parts[2], let rh = parts[3],
                  rx >= 0, ry >= 0, rw > 0, rh > 0, rx + rw <= width, ry + rh <= height else {
                throw ValidationError("--region '\(region)' is not X,Y,WIDTH,HEIGHT inside the \(width)x\(height) image")
            }
            (x0, y0, x1, y1) = (rx, ry, rx + rw, ry + rh)
        }
        var predicted: [Bool] = [], truthValues: [UInt8] = []
        for y in y0..<y1 {
            for x in x0..<x1 {
                predicted.append(mask[y * width + x])
                truthValues.append(truthImage.bytes[y * width + x] != 0 ? 1 : 0)
            }
        }
        let counts = Evaluation.canopyCounts(predicted: predicted, truth: truthValues)
        return ["canopy_iou": counts.union > 0 ? Double(counts.intersection) / Double(counts.union) : 1,
                "all_canopy_iou": Double(counts.truth) / Double(predicted.count),
                "pixels": predicted.count, "region": [x0, y0, x1 - x0, y1 - y0],
                "relative_canopy_area_error": counts.truth > 0 ? Double(counts.predicted - counts.truth) / Double(counts.truth) : 0]
    }

    func write(_ text: String, to path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw ValidationError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
