/// A Stripe request body: `application/x-www-form-urlencoded` fields in the order they were added, with
/// nested parameters written the way Stripe's own libraries write them, `metadata[order]=ord_1`.
///
/// Each key segment and each value is percent-encoded (everything outside `A-Z a-z 0-9 _ . - ~`, space as
/// `+`); the brackets that join segments stay literal, as stripe-node sends them and Stripe expects.
public struct StripeForm: Sendable, Equatable {
    /// One field: the key path (`["metadata", "order"]`) and its value.
    public struct Field: Sendable, Equatable {
        public let path: [String]
        public let value: String
    }

    public private(set) var fields: [Field] = []

    public init() {}

    /// Adds `key=value`.
    public mutating func append(_ key: String, _ value: String) {
        fields.append(Field(path: [key], value: value))
    }

    /// Adds a nested field: `append(["metadata", "order"], "ord_1")` is `metadata[order]=ord_1`.
    public mutating func append(_ path: [String], _ value: String) {
        precondition(!path.isEmpty, "a form field needs a name")
        fields.append(Field(path: path, value: value))
    }

    /// The body as it goes on the wire.
    public var encoded: String {
        fields.map { field in
            let head = FormURLEncoding.encodeComponent(field.path[0])
            let tail = field.path.dropFirst().map { "[\(FormURLEncoding.encodeComponent($0))]" }.joined()
            return "\(head)\(tail)=\(FormURLEncoding.encodeComponent(field.value))"
        }.joined(separator: "&")
    }
}
