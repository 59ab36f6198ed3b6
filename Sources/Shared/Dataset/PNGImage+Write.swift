import CPNG
import Foundation

extension PNGImage {
    /// An image to write: `channels` is 1 (grey) or 3 (RGB), `bytes` interleaved row-major.
    public init(width: Int, height: Int, channels: Int, pixels bytes: [UInt8]) throws(DatasetError) {
        guard channels == 1 || channels == 3 else {
            throw DatasetError(code: "png.channels", "a PNG to write has 1 (grey) or 3 (RGB) channels, not \(channels)")
        }
        guard width > 0, height > 0, bytes.count == width * height * channels else {
            throw DatasetError(code: "png.size", "a \(width)x\(height) image with \(channels) channels needs \(width * height * channels) bytes, got \(bytes.count)")
        }
        self.init(width: width, height: height, channels: channels, bytes: bytes)
    }

    /// The image as PNG bytes (libpng's simplified writer, 8 bits per channel).
    public func encoded() throws(DatasetError) -> Data {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        let stride = Int32(width * channels)
        // The first call sizes the output, the second fills it.
        var size = 0
        let sized = bytes.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }
        guard sized != 0, size > 0 else { throw writeFailure(&image) }
        var output = [UInt8](repeating: 0, count: size)
        let written = output.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard written != 0 else { throw writeFailure(&image) }
        png_image_free(&image)
        return Data(output.prefix(size))
    }

    /// Writes the image as a PNG file, atomically.
    public func write(to path: String) throws(DatasetError) {
        let data = try encoded()
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw DatasetError(code: "png.unwritable", "cannot write \(path): \(error.localizedDescription)")
        }
    }

    private func writeFailure(_ image: inout png_image) -> DatasetError {
        let reason = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        png_image_free(&image)
        return DatasetError(code: "png.encode", "libpng could not encode a \(width)x\(height) image: \(reason)")
    }
}
