/// Where a tile was cut from: the catalog columns `source_image`, `tile_x` and `tile_y`.
///
/// Tiles of one image that touch share trees, light and camera; a validation set that is meant
/// to measure generalisation must keep a margin between its tiles and the training tiles of the
/// same image, which needs each tile's position.
public struct TileOrigin: Sendable, Equatable, Hashable {
    /// The file name of the image the tile was cut from (`2019_YELL_2_541000_4977000_image_crop.png`).
    public var image: String
    /// Top-left pixel of the tile in that image.
    public var x: Int
    public var y: Int

    public init(image: String, x: Int, y: Int) {
        self.image = image
        self.x = x
        self.y = y
    }
}
