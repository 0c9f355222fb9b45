/// A complete SMTP reply: the three-digit code and every line of text, a multi-line reply (`250-…` lines
/// ending with `250 …`) joined into one value.
public struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    public var code: Int
    public var lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    public var isPositiveCompletion: Bool { (200..<300).contains(code) }
    public var isPositiveIntermediate: Bool { (300..<400).contains(code) }
    public var isTransientNegative: Bool { (400..<500).contains(code) }
    public var isPermanentNegative: Bool { (500..<600).contains(code) }

    public var description: String { "\(code) " + lines.joined(separator: " / ") }

    /// EHLO keywords (upper-cased) with their parameters, from every line after the greeting line.
    public var extensions: [String: [String]] {
        var result: [String: [String]] = [:]
        for line in lines.dropFirst() {
            let words = line.split(separator: " ").map(String.init)
            guard let keyword = words.first else { continue }
            result[keyword.uppercased()] = words.dropFirst().map { $0.uppercased() }
        }
        return result
    }
}

/// Why a line from the server could not be read as part of a reply.
public struct SMTPReplyParsingError: Error, Sendable, Hashable {
    public var line: String
}

/// Collects reply lines into replies. Pure, so it is tested without sockets.
public struct SMTPReplyParser: Sendable {
    private var code: Int?
    private var lines: [String] = []

    public init() {}

    /// Feeds one line (without its line break); returns the reply once its last line has arrived.
    public mutating func feed(line: String) throws(SMTPReplyParsingError) -> SMTPReply? {
        let bytes = Array(line.utf8)
        guard bytes.count >= 3, bytes[0..<3].allSatisfy({ (0x30...0x39).contains($0) }),
            let lineCode = Int(String(decoding: bytes[0..<3], as: UTF8.self))
        else { throw SMTPReplyParsingError(line: line) }
        if let code, code != lineCode { throw SMTPReplyParsingError(line: line) }
        let separator = bytes.count > 3 ? bytes[3] : UInt8(ascii: " ")
        guard separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else {
            throw SMTPReplyParsingError(line: line)
        }
        code = lineCode
        lines.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
        guard separator == UInt8(ascii: " ") else { return nil }
        let reply = SMTPReply(code: lineCode, lines: lines)
        code = nil
        lines = []
        return reply
    }
}
