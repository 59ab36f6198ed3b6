import CPNG
import Foundation

/// An 8-bit image decoded from PNG by libpng, interleaved (`channels` bytes per pixel).
public struct PNGImage: Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var bytes: [UInt8]

    public enum Format: Sendable { case gray, rgb }

    /// Decodes `path` to the requested channel layout; libpng converts palette, 16-bit and
    /// grey-alpha images as needed.
    public static func read(_ path: String, as format: Format) throws(DatasetError) -> PNGImage {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DatasetError(code: "png.unreadable", "cannot read \(path): \(error.localizedDescription)")
        }
        return try decode(data, as: format, origin: path)
    }

    /// Decodes PNG bytes; `origin` names where they came from in errors.
    public static func decode(_ data: Data, as format: Format, origin: String) throws(DatasetError) -> PNGImage {
        let result: Result<PNGImage, DatasetError> = data.withUnsafeBytes { raw in
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            func failure(_ code: String, _ what: String) -> Result<PNGImage, DatasetError> {
                let reason = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                png_image_free(&image)
                return .failure(DatasetError(code: code, "\(origin) \(what): \(reason)"))
            }
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                return failure("png.corrupt", "is not a readable PNG")
            }
            let channels: Int
            switch format {
            case .gray: image.format = UInt32(PNG_FORMAT_GRAY); channels = 1
            case .rgb: image.format = UInt32(PNG_FORMAT_RGB); channels = 3
            }
            let width = Int(image.width), height = Int(image.height)
            guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15 else {
                return failure("png.size", "has an impossible size \(width)x\(height)")
            }
            var bytes = [UInt8](repeating: 0, count: width * height * channels)
            let finished = bytes.withUnsafeMutableBytes { out in
                png_image_finish_read(&image, nil, out.baseAddress, Int32(width * channels), nil)
            }
            guard finished != 0 else { return failure("png.corrupt", "failed to decode") }
            return .success(PNGImage(width: width, height: height, channels: channels, bytes: bytes))
        }
        return try result.get()
    }
}
