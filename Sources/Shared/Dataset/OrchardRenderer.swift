/// Paints an `OrchardScene` into a `Tile`. Crowns are domes: where crowns overlap, the higher
/// dome surface wins the pixel, which decides both the colour and the instance id, so the
/// targets are exact by construction.
struct OrchardRenderer {
    let scene: OrchardScene

    func render(id: String) -> Tile {
        let w = scene.width, h = scene.height, n = w * h
        var owner = [Int32](repeating: -1, count: n)
        var depth = [Float](repeating: 0, count: n)
        var shade = [Float](repeating: 1, count: n)
        var weed = [Bool](repeating: false, count: n)
        let seed = scene.noiseSeed
        let edges = ValueNoise(width: w, height: h, cell: 3, seed: seed ^ 0x1)

        for (index, tree) in scene.trees.enumerated() {
            forEachPixel(around: tree.center, radius: tree.radius * 1.15) { x, y, p in
                let dx = (Float(x) + 0.5 - tree.center.x) / tree.radius.x
                let dy = (Float(y) + 0.5 - tree.center.y) / tree.radius.y
                let d2 = dx * dx + dy * dy
                // Ragged crown edges: the boundary wanders between 0.85 and 1.15 radii.
                let limit: Float = d2 < 0.7 ? 1 : 0.85 + 0.3 * edges.sample(x, y)
                guard d2 < limit else { return }
                if tree.dead && ValueNoise.hash(x, y, seed ^ UInt64(index)) < 0.55 { return }
                let z = tree.height * max(0, 1 - d2 / limit).squareRoot()
                if z > depth[p] {
                    depth[p] = z
                    owner[p] = Int32(index)
                }
            }
        }
        for tree in scene.trees {
            let offset = scene.sun * (tree.height * scene.shadowLength)
            let strength: Float = tree.dead ? 0.8 : 0.55
            forEachPixel(around: tree.center + offset, radius: tree.radius) { x, y, p in
                let dx = (Float(x) + 0.5 - tree.center.x - offset.x) / tree.radius.x
                let dy = (Float(y) + 0.5 - tree.center.y - offset.y) / tree.radius.y
                if dx * dx + dy * dy < 1, depth[p] < tree.height * 0.5 { shade[p] = min(shade[p], strength) }
            }
        }
        for blob in scene.weeds {
            forEachPixel(around: [blob.x, blob.y], radius: [blob.z, blob.z]) { x, y, p in
                let dx = Float(x) + 0.5 - blob.x, dy = Float(y) + 0.5 - blob.y
                if dx * dx + dy * dy < blob.z * blob.z && owner[p] < 0 { weed[p] = true }
            }
        }

        let bands = scene.bands
        var pixels = [UInt8](repeating: 0, count: bands * n)
        let patches = ValueNoise(width: w, height: h, cell: 16, seed: seed ^ 0x2)
        let clumps = ValueNoise(width: w, height: h, cell: 2, seed: seed ^ 0x3)
        let light = normalized(SIMD3(-scene.sun.x * 0.6, -scene.sun.y * 0.6, 0.8))
        let across = SIMD2(-scene.rowDirection.y, scene.rowDirection.x)
        pixels.withUnsafeMutableBufferPointer { out in
            for y in 0..<h {
                for x in 0..<w {
                    let p = y * w + x
                    let grain = ValueNoise.hash(x, y, seed)
                    var rgb: SIMD3<Float>
                    var nir: Float
                    let o = Int(owner[p])
                    if o >= 0 {
                        let tree = scene.trees[o]
                        if tree.dead {
                            rgb = SIMD3<Float>(150, 138, 124) * (0.7 + 0.3 * grain)
                            nir = 85
                        } else {
                            let dx = (Float(x) + 0.5 - tree.center.x) / tree.radius.x
                            let dy = (Float(y) + 0.5 - tree.center.y) / tree.radius.y
                            let dz = max(0, 1 - min(1, dx * dx + dy * dy)).squareRoot()
                            let lambert = max(0, dx * light.x + dy * light.y + dz * light.z)
                            let texture = 0.8 + 0.4 * clumps.sample(x, y)
                            rgb = tree.colour * ((0.5 + 0.6 * lambert) * texture)
                            nir = tree.nir * (0.6 + 0.5 * lambert) * texture
                        }
                    } else if weed[p] {
                        rgb = SIMD3<Float>(112, 152, 56) * (0.85 + 0.3 * grain)
                        nir = 165
                    } else {
                        var cover = scene.grassCover
                        if let spacing = scene.rowSpacing {
                            let offset = ((SIMD2(Float(x) + 0.5, Float(y) + 0.5) - scene.rowOrigin) * across).sum()
                            let fromRow = abs(offset - (offset / spacing).rounded() * spacing)
                            if fromRow < scene.stripHalfWidth { cover *= 0.1 }
                        }
                        let g = min(1, max(0, (patches.sample(x, y) - (1 - cover)) * 3 + 0.5))
                        rgb = (scene.soil * (1 - g) + scene.grass * g) * (0.95 + 0.1 * grain)
                        nir = (95 * (1 - g) + 150 * g) * (0.95 + 0.1 * grain)
                    }
                    rgb *= shade[p]
                    nir *= shade[p]
                    if let net = scene.netting {
                        let onThread = x % net.spacing == 0 || y % net.spacing == 0
                        let alpha = onThread ? net.opacity : net.opacity * 0.25
                        rgb = rgb * (1 - alpha) + SIMD3(repeating: net.colour * alpha)
                        nir = nir * (1 - alpha) + net.colour * 0.8 * alpha
                    }
                    out[p] = byte(rgb.x)
                    out[n + p] = byte(rgb.y)
                    out[2 * n + p] = byte(rgb.z)
                    if bands == 4 { out[3 * n + p] = byte(nir) }
                }
            }
        }
        return targets(id: id, pixels: pixels, owner: owner)
    }

    /// Canopy, instance ids and the tree table from the pixel owners: live trees with at least
    /// one visible pixel get ids 1...K in scene order.
    private func targets(id: String, pixels: [UInt8], owner: [Int32]) -> Tile {
        var visible = [Int](repeating: 0, count: scene.trees.count)
        for o in owner where o >= 0 && scene.trees[Int(o)].isCanopy { visible[Int(o)] += 1 }
        var instanceOf = [UInt16](repeating: 0, count: scene.trees.count)
        var trees: [TreeInstance] = []
        for (index, tree) in scene.trees.enumerated() where visible[index] > 0 && trees.count < Int(UInt16.max) {
            let instance = UInt16(trees.count + 1)
            instanceOf[index] = instance
            trees.append(TreeInstance(id: instance, centerX: tree.center.x, centerY: tree.center.y,
                                      radius: (tree.radius.x + tree.radius.y) / 2, visiblePixels: visible[index]))
        }
        let instances = owner.map { $0 >= 0 ? instanceOf[Int($0)] : 0 }
        let canopy = instances.map { UInt8($0 > 0 ? 1 : 0) }
        return Tile(id: id, width: scene.width, height: scene.height, bands: scene.bands,
                    groundSampleDistance: scene.groundSampleDistance, pixels: pixels, canopy: canopy,
                    instances: instances, trees: trees)
    }

    /// Calls `body(x, y, index)` for the tile pixels in the box around an ellipse.
    @inline(__always)
    private func forEachPixel(around centre: SIMD2<Float>, radius: SIMD2<Float>, _ body: (Int, Int, Int) -> Void) {
        let x0 = max(0, Int((centre.x - radius.x).rounded(.down))), x1 = min(scene.width, Int((centre.x + radius.x).rounded(.up)) + 1)
        let y0 = max(0, Int((centre.y - radius.y).rounded(.down))), y1 = min(scene.height, Int((centre.y + radius.y).rounded(.up)) + 1)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            for x in x0..<x1 { body(x, y, y * scene.width + x) }
        }
    }

    /// Rounds half up; adding 0.5 and truncating avoids a libm call per channel.
    @inline(__always)
    private func byte(_ value: Float) -> UInt8 { UInt8(min(255, max(0, value)) + 0.5) }

    private func normalized(_ v: SIMD3<Float>) -> SIMD3<Float> { v / (v * v).sum().squareRoot() }
}
