/// The three reductions behind `RingAllReduce.sum`.
extension RingAllReduce {
    /// Block fixed point: agree on per-block exponents (a max-reduce of one byte per block), then
    /// sum 32-bit (up to 64 micro-batches) or 64-bit integers, then decode. See `ExactBlockCodec`.
    func exactSum(_ batches: [[Float]], count: Int, totalMicroBatches: Int, sequence: UInt64) throws(CollectiveError) -> ReduceOutcome {
        let codec = ExactBlockCodec(totalMicroBatches: totalMicroBatches)
        let parameter = UInt32(codec.fractionBits)
        var fields = [UInt8](repeating: 0, count: ExactBlockCodec.blockCount(for: count))
        try fields.withUnsafeMutableBufferPointer { (fieldBuffer) throws(CollectiveError) in
            observed({ .encode(start: $0, end: $1) }) {
                for batch in batches {
                    batch.withUnsafeBufferPointer { ExactBlockCodec.mergeExponents(of: $0, into: fieldBuffer) }
                }
            }
            try exchange.run(
                ExponentMaxLane(fields: fieldBuffer), plan: plan(count: fieldBuffer.count, elementBytes: 1),
                template: template(stage: .exponents, sequence: sequence, count: fieldBuffer.count, parameter: parameter))
        }
        // Every member holds the same fields now, so all of them stop here or none does.
        if fields.contains(ExactBlockCodec.nonFiniteField) { return .overflow }

        var beyondRange = false
        var result = takeResultBuffer(count: count)
        let sumTemplate = template(stage: .values, sequence: sequence, count: count, parameter: parameter)
        if codec.sumBytes == 4 {
            if narrowScratch.count != count {
                narrowScratch = [Int32](repeating: 0, count: count)
            } else if batches.isEmpty {
                narrowScratch.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
            let watch = MagnitudeWatch()
            do {
                try narrowScratch.withUnsafeMutableBufferPointer { (sumBuffer) throws(CollectiveError) in
                    try fields.withUnsafeBufferPointer { (fieldBuffer) throws(CollectiveError) in
                        try result.withUnsafeMutableBufferPointer { (resultBuffer) throws(CollectiveError) in
                            let narrowPlan = plan(count: count, elementBytes: 4)
                            let owned = narrowPlan.chunk(narrowPlan.ownedChunk(rank: link.rank))
                            if batches.count == 1 && link.worldSize > 1 {
                                // One micro-batch: encoded frame by frame as the ring reads it.
                                try batches[0].withUnsafeBufferPointer { (own) throws(CollectiveError) in
                                    let lane = NarrowExactSumLane(sums: sumBuffer, own: own, codec: codec, fields: fieldBuffer,
                                                                  result: resultBuffer, owned: owned, watch: watch)
                                    try exchange.run(lane, plan: narrowPlan, template: sumTemplate)
                                }
                            } else {
                                observed({ .encode(start: $0, end: $1) }) {
                                    for (index, batch) in batches.enumerated() {
                                        batch.withUnsafeBufferPointer { codec.accumulate($0, fields: fieldBuffer, into: sumBuffer, overwrite: index == 0) }
                                    }
                                }
                                let lane = NarrowExactSumLane(sums: sumBuffer, own: nil, codec: codec, fields: fieldBuffer,
                                                              result: resultBuffer, owned: owned, watch: watch)
                                try exchange.run(lane, plan: narrowPlan, template: sumTemplate)
                            }
                        }
                    }
                }
            } catch {
                endLending([narrowScratch, batches, result] as [Any], failed: true)
                throw error
            }
            endLending([narrowScratch, batches, result] as [Any], failed: false)
            // The lane decoded every element as it became final.
            beyondRange = watch.sawNonFinite
        } else {
            if integerScratch.count != count {
                integerScratch = [Int64](repeating: 0, count: count)
            } else if batches.isEmpty {
                integerScratch.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
            do {
                try integerScratch.withUnsafeMutableBufferPointer { (sumBuffer) throws(CollectiveError) in
                    observed({ .encode(start: $0, end: $1) }) {
                        fields.withUnsafeBufferPointer { fieldBuffer in
                            for (index, batch) in batches.enumerated() {
                                batch.withUnsafeBufferPointer { codec.accumulate($0, fields: fieldBuffer, into: sumBuffer, overwrite: index == 0) }
                            }
                        }
                    }
                    try exchange.run(ExactSumLane(sums: sumBuffer), plan: plan(count: count, elementBytes: 8), template: sumTemplate)
                }
            } catch {
                endLending(integerScratch, failed: true)
                throw error
            }
            endLending(integerScratch, failed: false)
            observed({ .decode(start: $0, end: $1) }) {
                result.withUnsafeMutableBufferPointer { buffer in
                    integerScratch.withUnsafeBufferPointer { sumBuffer in
                        fields.withUnsafeBufferPointer { beyondRange = codec.decode(sumBuffer, fields: $0, into: buffer) }
                    }
                }
            }
        }
        resultScratch = result
        return beyondRange ? .overflow : .sum(result)
    }

    /// float32 throughout: local micro-batches summed in order, then the ring.
    func floatSum(_ batches: [[Float]], count: Int, sequence: UInt64) throws(CollectiveError) -> ReduceOutcome {
        var values = takeResultBuffer(count: count)
        // The lane looks for infinities and NaNs while it writes the final values (the owned chunk
        // and every gathered one), instead of reading the whole result again afterwards.
        let finiteCheck = MagnitudeWatch()
        let floatPlan = plan(count: count, elementBytes: 4)
        let floatTemplate = template(stage: .values, sequence: sequence, count: count, parameter: 0)
        do {
            try values.withUnsafeMutableBufferPointer { (buffer) throws(CollectiveError) in
                if batches.count == 1 && link.worldSize > 1 {
                    // One micro-batch: the ring reads it where it is instead of a copy.
                    try batches[0].withUnsafeBufferPointer { (own) throws(CollectiveError) in
                        try exchange.run(FloatSumLane(values: buffer, own: own, watch: finiteCheck), plan: floatPlan, template: floatTemplate)
                    }
                } else {
                    observed({ .encode(start: $0, end: $1) }) { FloatKernels.localSum(batches, into: buffer) }
                    try exchange.run(FloatSumLane(values: buffer, watch: finiteCheck), plan: floatPlan, template: floatTemplate)
                }
            }
        } catch {
            endLending([values, batches] as [Any], failed: true)
            throw error
        }
        endLending([values, batches] as [Any], failed: false)
        resultScratch = values
        return finiteCheck.sawNonFinite ? .overflow : .sum(values)
    }

    /// float32 local sums, scaled, then a ring whose wire is float16; the result is unscaled.
    func halfSum(_ batches: [[Float]], count: Int, lossScale: Float, sequence: UInt64) throws(CollectiveError) -> ReduceOutcome {
        var values = takeResultBuffer(count: count)
        if halfScratch.count != count { halfScratch = [Float16](repeating: 0, count: count) }
        let watch = MagnitudeWatch()
        let halfPlan = plan(count: count, elementBytes: 2)
        let unscale = 1 / lossScale
        let halfTemplate = template(stage: .values, sequence: sequence, count: count, parameter: lossScale.bitPattern)
        do {
            try values.withUnsafeMutableBufferPointer { (buffer) throws(CollectiveError) in
                try halfScratch.withUnsafeMutableBufferPointer { (halves) throws(CollectiveError) in
                    let wire = UnsafeMutableRawBufferPointer(halves)
                    // A local sum that is already non-finite travels as such and is caught below.
                    if batches.count == 1 && link.worldSize > 1 {
                        // One micro-batch: the ring reads and scales it where it is instead of a copy.
                        try batches[0].withUnsafeBufferPointer { (own) throws(CollectiveError) in
                            try exchange.run(
                                HalfWireLane(values: buffer, own: own, ownScale: lossScale, wire: wire, unscale: unscale, watch: watch),
                                plan: halfPlan, template: halfTemplate)
                        }
                    } else {
                        observed({ .encode(start: $0, end: $1) }) { FloatKernels.localSum(batches, into: buffer, scaledBy: lossScale) }
                        try exchange.run(HalfWireLane(values: buffer, wire: wire, unscale: unscale, watch: watch),
                                         plan: halfPlan, template: halfTemplate)
                    }
                }
            }
        } catch {
            endLending([halfScratch, batches] as [Any], failed: true)
            throw error
        }
        endLending([halfScratch, batches] as [Any], failed: false)
        // The gathered vector is identical on every member, so an infinity or NaN produced on any
        // hop is seen by all of them: that is the agreement on overflow. (Unscaling cannot turn a
        // finite value into an infinity unless the scale is below 1, and then that is an overflow
        // of the result, reported the same way.)
        resultScratch = values
        return watch.sawNonFinite ? .overflow : .sum(values)
    }
}
