import RechargeCore

/// Classifies the credit entries of a statement against the orders awaiting bank transfers. Pure and
/// deterministic: the store is reached only through the caller's lookup closure, so the same entries and
/// the same answers always give the same result.
public enum StatementMatcher {
    /// Classifies every credit entry, in statement order; debits are left out (they are not payments in).
    /// `lookup` may throw (for instance a store error), which stops the classification.
    public static func classify<Failure: Error>(
        _ entries: [StatementEntry], lookup: (PaymentReference) throws(Failure) -> MatchTarget?
    ) throws(Failure) -> [StatementMatch] {
        var matches: [StatementMatch] = []
        for entry in entries where entry.direction == .credit {
            matches.append(StatementMatch(entry: entry, outcome: try outcome(for: entry, lookup: lookup)))
        }
        return matches
    }

    /// The verdict for one entry; debits are classified too when asked directly.
    public static func outcome<Failure: Error>(
        for entry: StatementEntry, lookup: (PaymentReference) throws(Failure) -> MatchTarget?
    ) throws(Failure) -> MatchOutcome {
        let candidates = references(in: entry)
        guard !candidates.isEmpty else { return .noReference }
        for reference in candidates {
            guard let target = try lookup(reference) else { continue }
            if target.expected == entry.amount {
                return .matched(orderID: target.orderID, amount: entry.amount)
            }
            return .amountMismatch(orderID: target.orderID, reference: reference, expected: target.expected, received: entry.amount)
        }
        return .unknownReference(candidates)
    }

    /// The valid RF references of an entry, most trustworthy first: the structured creditor reference
    /// (machine-carried from the payer's reference field), then each remittance line, then the lines
    /// joined (a reference the bank wrapped across two lines), then the bank's additional information.
    /// Callers whose store is asynchronous can resolve these first and pass a dictionary lookup.
    public static func references(in entry: StatementEntry) -> [PaymentReference] {
        var texts: [String] = []
        if let structured = entry.remittance.creditorReference { texts.append(structured) }
        texts += entry.remittance.unstructured
        if entry.remittance.unstructured.count > 1 { texts.append(entry.remittance.unstructured.joined()) }
        if let additional = entry.additionalInformation { texts.append(additional) }
        var found: [PaymentReference] = []
        for text in texts {
            for reference in PaymentReference.references(in: text) where !found.contains(reference) {
                found.append(reference)
            }
        }
        return found
    }
}
