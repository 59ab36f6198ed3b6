extension RunStatus {
    /// The snapshot as a Prometheus scrape page (`GET /metrics`). Metrics that have no value yet
    /// (no loss before the first step) are left out rather than reported as 0.
    public func prometheus() -> String {
        var page = PrometheusText()
        // Names are fixed and valid, and each is added with one type, so no call below can throw.
        try? page.gauge("grove_info", help: "Constant 1, labelled with the run's name and phase.", value: 1,
                        labels: [("run", run), ("phase", phase.rawValue)])
        try? page.gauge("grove_step", help: "Last committed step.", value: Double(step))
        try? page.gauge("grove_total_steps", help: "Steps the run will commit in all.", value: Double(totalSteps))
        try? page.counter("grove_samples_total", help: "Samples applied by committed steps.", value: Double(samples))
        if let loss { try? page.gauge("grove_loss", help: "Mean loss of the last committed step.", value: loss) }
        if let learningRate { try? page.gauge("grove_learning_rate", help: "Learning rate of the last committed step.", value: learningRate) }
        if let samplesPerSecond {
            try? page.gauge("grove_samples_per_second", help: "Throughput of the last committed step.", value: samplesPerSecond)
        }
        for status in ["joining", "up", "draining", "down"] {
            try? page.gauge("grove_workers", help: "Workers by membership status.", value: Double(workers[status] ?? 0),
                            labels: [("status", status)])
        }
        for (status, count) in workers.sorted(by: { $0.key < $1.key })
        where !["joining", "up", "draining", "down"].contains(status) {
            try? page.gauge("grove_workers", help: "Workers by membership status.", value: Double(count), labels: [("status", status)])
        }
        try? page.gauge("grove_generation", help: "Current membership generation.", value: Double(generation))
        try? page.gauge("grove_elapsed_seconds", help: "Seconds since the coordinator started.", value: elapsedSeconds)
        if let etaSeconds { try? page.gauge("grove_eta_seconds", help: "Estimated seconds until the last step.", value: etaSeconds) }
        try? page.counter("grove_stale_messages_total", help: "Messages dropped as stale or malformed.", value: Double(staleMessages))
        if let checkpointStep {
            try? page.gauge("grove_checkpoint_step", help: "Step of the newest checkpoint written.", value: Double(checkpointStep))
        }
        return page.render()
    }
}
