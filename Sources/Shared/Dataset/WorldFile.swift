import Foundation

/// The georeferencing of an image as an ESRI world file (`.pgw`, `.tfw`, `.wld`): six numbers, one
/// per line — A (pixel width in map units), D and B (rotation terms), E (pixel height, negative for
/// north-up), C and F (map coordinates of the *centre* of the top-left pixel).
///
/// A pixel coordinate `(x, y)` in Grove's convention (pixel `x` covers `[x, x + 1)`, so a pixel's
/// centre is at `x + 0.5`) maps to `X = A (x - 0.5) + B (y - 0.5) + C`, `Y = D (x - 0.5) + E (y -
/// 0.5) + F`. The map's coordinate reference system is not part of the file; callers name it.
public struct WorldFile: Sendable, Equatable {
    public var a: Double, d: Double, b: Double, e: Double, c: Double, f: Double

    public init(a: Double, d: Double, b: Double, e: Double, c: Double, f: Double) {
        (self.a, self.d, self.b, self.e, self.c, self.f) = (a, d, b, e, c, f)
    }

    /// A north-up frame with square pixels of `pixelSize` map units whose top-left corner is at
    /// (`originX`, `originY`).
    public static func northUp(pixelSize: Double, originX: Double = 0, originY: Double = 0) -> WorldFile {
        WorldFile(a: pixelSize, d: 0, b: 0, e: -pixelSize, c: originX + pixelSize / 2, f: originY - pixelSize / 2)
    }

    /// Parses the six lines; blank lines at the end are allowed. Errors name the file and line.
    public static func parse(_ text: String, origin: String) throws(DatasetError) -> WorldFile {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let content = lines.reversed().drop { $0.isEmpty }.reversed()
        guard content.count == 6 else {
            throw DatasetError(code: "worldfile.lines", "world file \(origin) has \(content.count) lines; expected 6 numbers (A, D, B, E, C, F), one per line")
        }
        var values: [Double] = []
        for (index, line) in content.enumerated() {
            guard let value = Double(line), value.isFinite else {
                throw DatasetError(code: "worldfile.number", "world file \(origin) line \(index + 1) is '\(line)', not a finite number")
            }
            values.append(value)
        }
        let file = WorldFile(a: values[0], d: values[1], b: values[2], e: values[3], c: values[4], f: values[5])
        guard file.pixelArea > 0 else {
            throw DatasetError(code: "worldfile.degenerate", "world file \(origin) maps pixels to zero area (A \(file.a), D \(file.d), B \(file.b), E \(file.e))")
        }
        return file
    }

    public static func read(_ path: String) throws(DatasetError) -> WorldFile {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw DatasetError(code: "worldfile.unreadable", "cannot read world file \(path): \(error.localizedDescription)")
        }
        return try parse(text, origin: path)
    }

    /// The file's text, six lines, as GIS tools write it.
    public var text: String { [a, d, b, e, c, f].map { "\($0)" }.joined(separator: "\n") + "\n" }

    /// Map coordinates of a point given in pixel coordinates (`x + 0.5` is pixel `x`'s centre).
    public func map(x: Double, y: Double) -> (x: Double, y: Double) {
        (a * (x - 0.5) + b * (y - 0.5) + c, d * (x - 0.5) + e * (y - 0.5) + f)
    }

    /// The ground area of one pixel in squared map units.
    public var pixelArea: Double { abs(a * e - b * d) }
}
