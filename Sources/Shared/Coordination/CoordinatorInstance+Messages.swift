import Core
import Wire

extension CoordinatorInstance {
    /// One control message from connection `peer`.
    public mutating func onMessage(_ message: Wire.Message, envelope: Wire.Envelope, from peer: [UInt8],
                                   now: ContinuousClock.Instant) -> [Directive] {
        guard !finished else { return [] }
        if let member = table.member(peer: peer) {
            table.heard(from: member.id, incarnation: envelope.incarnation, now: now)
        } else if let former = table.formerMember(peer: peer) {
            switch message {
            case .hello, .join:
                break  // joining again: handled below like any newcomer
            default:
                return formerSpeaks(former, message: message, peer: peer, now: now)
            }
        } else if envelope.sender != WorkerID(0) {
            switch message {
            case .hello, .join:
                break
            default:
                return strangerSpeaks(envelope.sender, message: message, peer: peer, now: now)
            }
        }
        switch message {
        case .hello:
            // The sample channel's announcement is an optional section a worker before minor 4
            // cannot decode.
            var runConfig = settings.runConfig
            if envelope.minor < Wire.samplesMinor { runConfig.samples = nil }
            return [.send(.runConfig(runConfig), to: peer)]
        case .join(let join):
            return onJoin(join, envelope: envelope, peer: peer, now: now)
        case .stepResult(let result):
            guard var attempt, let member = table.member(peer: peer), envelope.generation == attempt.generation,
                  result.step == attempt.step.wire, attempt.members.contains(member.id), attempt.failures[member.id] == nil
            else {
                counters.staleMessages += 1
                counters.staleResults += 1
                return []
            }
            attempt.results[member.id] = result
            self.attempt = attempt
            return decide(attempt.verdict(now: now), now: now) + (stopReason != nil ? advanceStop(now: now) : [])
        case .stepFailed(let failure):
            guard var attempt, let member = table.member(peer: peer), envelope.generation == attempt.generation,
                  failure.step == attempt.step.wire, attempt.members.contains(member.id), attempt.results[member.id] == nil
            else {
                counters.staleMessages += 1
                return []
            }
            attempt.failures[member.id] = failure
            // The others whose collectives stall behind the fault time out on their own within
            // the collective timeout; their reports say where it is. Wait for them, not longer.
            attempt.deadline = min(attempt.deadline, now + policy.collectiveTimeout + settings.members.timeout)
            self.attempt = attempt
            return decide(attempt.verdict(now: now), now: now)
        case .leave(let leave):
            guard let member = table.member(peer: peer) else { return [] }
            var out: [Directive] = [.event(.left(member.id, reason: leave.reason, text: leave.text))]
            let cause: RedoCause
            switch leave.reason {
            case .drain:
                counters.drains += 1
                cause = .drain
                // A member of the attempt in flight that has not failed it need not cost that
                // step: it drains — its result still counts, it is dealt nothing more, and it is
                // out of the ring once the attempt is decided. (If its result never comes, its
                // silence ends the attempt as any member's would.)
                if let attempt, attempt.members.contains(member.id), attempt.failures[member.id] == nil, stopReason == nil {
                    table.markDraining(member.id)
                    return out
                }
            case .error:
                counters.failures += 1
                cause = .memberFault
            case .runFinished, .shutdown:
                cause = .leave
            }
            out += removeMember(member.id, reason: "left", cause: cause, now: now)
            return out + (stopReason != nil ? advanceStop(now: now) : [])
        case .heartbeat:
            return []
        case .state:
            // States stream from members' state servers (`fetchState`); this coordinator never
            // asks for one on the control channel.
            counters.staleMessages += 1
            return []
        case .runConfig, .welcome, .reject, .lease, .commit, .stateRequest, .stateGrant, .stateSource,
             .stateFetch, .stateChunk, .stateRefused,  // the state socket's kinds
             .indexRequest, .sampleIndex, .sampleRequest, .sampleData, .sampleRefused,  // the sample channel's
             .ringKeys:  // a coordinator's own message
            counters.staleMessages += 1
            return []
        }
    }

    /// A frame that could not be decoded. One of another major version is answered, so that the
    /// worker can say which versions differ; anything else is counted and dropped.
    public mutating func onUndecodable(from peer: [UInt8], code: String, text: String) -> [Directive] {
        counters.staleMessages += 1
        guard code == "wire.version" else { return [] }
        return [.send(.reject(Wire.Reject(reason: .protocolVersion, text: text)), to: peer)]
    }

    /// A member whose membership is over speaks: tell it, at most once per heartbeat interval, so
    /// that it joins again as a new incarnation instead of waiting for a silence timeout.
    mutating func formerSpeaks(_ former: MemberTable.Member, message: Wire.Message, peer: [UInt8],
                               now: ContinuousClock.Instant) -> [Directive] {
        counters.staleMessages += 1
        if case .stepResult = message { counters.staleResults += 1 }
        if case .leave = message { return [] }
        guard former.downReason != "left" else { return [] }  // it said goodbye: a last heartbeat
        if let told = toldDown[peer], told.duration(to: now) < settings.members.heartbeatInterval { return [] }
        if toldDown.count > 4 * settings.members.formerMembersKept { toldDown.removeAll() }
        toldDown[peer] = now
        let text = "\(former.id) was \(former.downReason ?? "declared down"); join again as a new worker"
        return [.event(.toldDown(former.id)), .send(.reject(Wire.Reject(reason: .declaredDown, text: text)), to: peer)]
    }

    /// A process speaks as a member this coordinator does not know on that connection: its down
    /// record was pruned (`formerMembersKept`), or it was a member of an earlier coordinator of
    /// the run. Without an answer it would heartbeat into the void forever, a worker the run
    /// never gets back; it is told to join again, like a former member.
    mutating func strangerSpeaks(_ claimed: WorkerID, message: Wire.Message, peer: [UInt8],
                                 now: ContinuousClock.Instant) -> [Directive] {
        counters.staleMessages += 1
        if case .stepResult = message { counters.staleResults += 1 }
        if case .leave = message { return [] }
        if let told = toldDown[peer], told.duration(to: now) < settings.members.heartbeatInterval { return [] }
        if toldDown.count > 4 * settings.members.formerMembersKept { toldDown.removeAll() }
        toldDown[peer] = now
        let text = "\(claimed) is not a member of this run; join again as a new worker"
        return [.event(.toldDown(claimed)), .send(.reject(Wire.Reject(reason: .declaredDown, text: text)), to: peer)]
    }

    mutating func onJoin(_ join: Wire.Join, envelope: Wire.Envelope, peer: [UInt8], now: ContinuousClock.Instant) -> [Directive] {
        let host = LogText.escape(join.host, limit: 128)
        if stopReason != nil {
            counters.refusedJoins += 1
            return [.send(.reject(Wire.Reject(reason: .runEnded, text: "the run is stopping")), to: peer)]
        }
        switch admission.consider(join, peer: peer, liveAtPeer: table.member(peer: peer)?.id, full: table.isFull, now: now) {
        case .drop:
            counters.droppedJoins += 1
            return []
        case .refuse(let reason, let text):
            counters.refusedJoins += 1
            return [.event(.refused(host: host, reason: text)), .send(.reject(Wire.Reject(reason: reason, text: text)), to: peer)]
        case .admit(let after):
            let process = "\(join.host) pid \(join.pid)"
            let earlier = table.formerMember(process: process)
            if earlier != nil { counters.rejoins += 1 }
            let id = table.add(incarnation: envelope.incarnation, peer: peer, ringEndpoint: join.ringEndpoint,
                               stateEndpoint: join.stateEndpoint ?? "", host: host,
                               pid: join.pid, admitAfter: after, now: now)
            let millis = UInt32(min(settings.members.heartbeatInterval.inSeconds * 1000, Double(UInt32.max)))
            return [
                .event(.joined(id, host: host, pid: join.pid, rejoinOf: earlier?.id, waitsUntil: after > now ? after : nil)),
                .send(.welcome(Wire.Welcome(worker: id, heartbeatIntervalMillis: millis)), to: peer),
            ]
        }
    }
}
