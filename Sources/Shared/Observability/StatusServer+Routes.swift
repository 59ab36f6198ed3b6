extension StatusServer {
    /// Serves a run's standard routes from `board`:
    ///
    /// - `GET /` — the status page (`StatusPage`), polling `/status` every second;
    /// - `GET /status` — `RunStatus` as JSON;
    /// - `GET /metrics` — the Prometheus text format, `text/plain; version=0.0.4`.
    public func serveStatus(from board: StatusBoard) {
        let page = StatusPage.html(run: board.snapshot.run)
        route("/") { _ in .html(page) }
        route("/status") { _ in .json(board.json()) }
        route("/metrics") { _ in
            HTTPResponse(contentType: HTTPResponse.prometheusContentType, text: board.snapshot.prometheus())
        }
    }
}
