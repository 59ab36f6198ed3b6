import Model

/// `evaluation.json` of a manifest scored per group (`coordinator evaluate --manifest`): the
/// pooled report, one per source and site, and what the training manifest says about the tiles.
struct GroupedEvaluation: Encodable {
    var pooled: EvaluationReport
    var groups: [String: EvaluationReport]
    var notes: [String]
}
