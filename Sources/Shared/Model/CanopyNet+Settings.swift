import Core

extension CanopyNet {
    /// Everything that shapes CanopyNet and its loss. The defaults train to a useful canopy mask on
    /// the shipped 128x128 tiles within minutes on two cores.
    public struct Settings: Sendable, Hashable, Codable {
        /// 3 (RGB) or 4 (RGB + near-infrared).
        public var inputBands = 3
        /// Channels of the first level; level l has `baseWidth * 2^l`.
        public var baseWidth = 8
        /// Number of 2x2 poolings; tile sides must be multiples of `2^depth`.
        public var depth = 3
        /// GroupNorm groups per block (reduced to a divisor of the block's channels).
        public var groups = 4
        /// Per-band mean of `pixel / 255`, subtracted from the input. The RGB defaults are the means
        /// of the shipped aerial sample; the fourth band defaults to 0.5.
        public var bandMeans: [Float] = [0.530, 0.583, 0.544, 0.5]
        /// Weight of the soft Dice term of the canopy loss.
        public var diceWeight: Float = 1
        /// Weight of the centre-heatmap BCE in the total loss.
        public var centreWeight: Float = 1
        /// Weight of the positive term of the centre BCE: centres are a few percent of pixels.
        public var centrePositiveWeight: Float = 20
        /// Gaussian sigma of a tree's centre peak, as a fraction of its crown radius in pixels...
        public var centreSigmaPerRadius: Float = 0.25
        /// ...but never below this many pixels.
        public var minimumCentreSigma: Float = 2
        /// Threads each convolution may use; results do not depend on it.
        public var threads = 1

        public init() {}

        public init(inputBands: Int = 3, baseWidth: Int = 8, depth: Int = 3, threads: Int = 1) {
            self.inputBands = inputBands
            self.baseWidth = baseWidth
            self.depth = depth
            self.threads = threads
        }

        /// Initial head biases: log-odds of roughly 30 % canopy and 1 % centre pixels.
        var canopyPriorLogit: Float { -0.85 }
        var centrePriorLogit: Float { -4.6 }

        public func validate() throws(SettingsError) {
            guard inputBands == 3 || inputBands == 4 else {
                throw SettingsError("inputBands is \(inputBands); CanopyNet takes 3 (RGB) or 4 (RGB + NIR) bands")
            }
            guard (1...256).contains(baseWidth) else { throw SettingsError("baseWidth is \(baseWidth); expected 1...256") }
            guard (0...6).contains(depth) else { throw SettingsError("depth is \(depth); expected 0...6") }
            guard groups >= 1 else { throw SettingsError("groups is \(groups); expected at least 1") }
            guard bandMeans.count >= inputBands else {
                throw SettingsError("bandMeans has \(bandMeans.count) values but inputBands is \(inputBands)")
            }
            guard diceWeight >= 0, centreWeight >= 0, centrePositiveWeight > 0 else {
                throw SettingsError("loss weights must be non-negative (dice \(diceWeight), centre \(centreWeight), centre positive \(centrePositiveWeight))")
            }
            guard centreSigmaPerRadius > 0, minimumCentreSigma > 0 else {
                throw SettingsError("centre sigma settings must be positive (\(centreSigmaPerRadius), \(minimumCentreSigma))")
            }
            guard threads >= 1 else { throw SettingsError("threads is \(threads); expected at least 1") }
        }
    }

    /// A CanopyNet setting out of range, naming the setting and its value.
    public struct SettingsError: GroveError {
        public var message: String
        public var code: String { "model.canopy-net-settings" }
        init(_ message: String) { self.message = message }
    }
}
