/// What a caller knows about a sample beyond its pixels: where it came from and how to file it.
public struct SampleLabels: Sendable, Equatable {
    /// The collection it came from (`aerial-sample`, `synthetic`, a survey name).
    public var source: String
    /// Farm, block or field-site name.
    public var site: String
    /// Crop or vegetation kind (`apple`, `vine`, `conifer`, `unknown`).
    public var crop: String
    /// `train`, `val`, `test` or the source's own split name.
    public var split: String
    /// Hail or bird netting over the canopy.
    public var netting: Bool
    /// Planted trees per hectare; nil when unknown (natural stands, unsurveyed blocks).
    public var plantingDensity: Double?
    public var synthetic: Bool
    /// False when some trees in the tile are known to be unlabelled.
    public var labelsComplete: Bool
    /// Where the tile was cut from: its source image and the top-left pixel of the tile in it;
    /// nil when unknown. Held-out regions and their margins are queries over these.
    public var origin: TileOrigin?

    public init(source: String, site: String, crop: String, split: String, netting: Bool = false,
                plantingDensity: Double? = nil, synthetic: Bool = false, labelsComplete: Bool = true,
                origin: TileOrigin? = nil) {
        self.source = source
        self.site = site
        self.crop = crop
        self.split = split
        self.netting = netting
        self.plantingDensity = plantingDensity
        self.synthetic = synthetic
        self.labelsComplete = labelsComplete
        self.origin = origin
    }
}

/// One row of the catalog's `samples` table.
public struct SampleRecord: Sendable, Equatable {
    public var id: String
    /// The sample file, relative to the catalog directory.
    public var path: String
    /// SHA-256 (hex) of the sample file's content, as stored in its trailer.
    public var contentHash: String
    public var labels: SampleLabels
    public var width: Int
    public var height: Int
    public var bands: Int
    /// Ground sample distance in metres per pixel.
    public var groundSampleDistance: Double
    /// Share of pixels that are canopy, 0...1.
    public var canopyFraction: Double
    /// Trees with at least one visible pixel.
    public var treeCount: Int
    /// Mean visible crown area per tree in square metres (0 without trees).
    public var meanTreeArea: Double
    /// ISO 8601 time the sample entered the catalog.
    public var addedAt: String
    /// Loss at the sample's last training visit, if any.
    public var lastLoss: Double?
    /// Step of that visit.
    public var lastSeenStep: Int?

    public init(id: String, path: String, contentHash: String, labels: SampleLabels, width: Int, height: Int,
                bands: Int, groundSampleDistance: Double, canopyFraction: Double, treeCount: Int,
                meanTreeArea: Double, addedAt: String, lastLoss: Double? = nil, lastSeenStep: Int? = nil) {
        self.id = id
        self.path = path
        self.contentHash = contentHash
        self.labels = labels
        self.width = width
        self.height = height
        self.bands = bands
        self.groundSampleDistance = groundSampleDistance
        self.canopyFraction = canopyFraction
        self.treeCount = treeCount
        self.meanTreeArea = meanTreeArea
        self.addedAt = addedAt
        self.lastLoss = lastLoss
        self.lastSeenStep = lastSeenStep
    }
}
