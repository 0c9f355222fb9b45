/// What the payer wrote for the payee: free text lines and, when the payer's bank supports it, a
/// structured creditor reference (camt.053 `RmtInf/Strd/CdtrRefInf/Ref`).
public struct RemittanceInformation: Hashable, Sendable {
    public var unstructured: [String]
    /// As the bank delivered it, not validated: the matcher decides whether it is a valid RF reference.
    public var creditorReference: String?

    public init(unstructured: [String] = [], creditorReference: String? = nil) {
        self.unstructured = unstructured
        self.creditorReference = creditorReference
    }
}
