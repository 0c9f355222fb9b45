/// A mailbox: an address and, optionally, the name shown with it (which may be Chinese, like "张伟").
public struct MailAddress: Sendable, Hashable {
    public var address: String
    public var displayName: String?

    public init(_ address: String, displayName: String? = nil) {
        self.address = address
        self.displayName = displayName
    }

    /// The domain part, used for Message-ID.
    public var domain: String {
        address.split(separator: "@").last.map(String.init) ?? "localhost"
    }

    /// Tokens for a header: the name as atoms, a quoted string or encoded-words, then `<address>`.
    func appendTo(_ builder: inout HeaderFieldBuilder) {
        if let name = displayName, !name.isEmpty {
            if MIMEEncoding.isPlainHeaderText(name) {
                let atext = name.unicodeScalars.allSatisfy { scalar in
                    scalar == " " || scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                        || "!#$%&'*+-/=?^_`{|}~".unicodeScalars.contains(scalar)
                }
                if atext {
                    for word in name.split(separator: " ") { builder.append(String(word)) }
                } else {
                    let escaped = name.replacingOccurrences(of: "\\", with: "\\\\")
                        .replacingOccurrences(of: "\"", with: "\\\"")
                    builder.append("\"\(escaped)\"")
                }
            } else {
                builder.appendText(name)
            }
        }
        builder.append("<\(address)>")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
