import Foundation

/// The encodings a mail message needs to carry UTF-8 text through 7-bit SMTP: RFC 2047 encoded-words for
/// headers, quoted-printable and base64 (RFC 2045) for bodies, and header folding (RFC 5322 §2.2.3).
public enum MIMEEncoding {
    /// RFC 5322 recommends lines of at most 78 characters before the CRLF.
    public static let maximumLineLength = 78
    /// RFC 2047 §2 caps one encoded-word at 75 characters.
    public static let maximumEncodedWordLength = 75

    /// Line breaks of any kind (CRLF, bare LF, bare CR) as CRLF, so no bare LF ever reaches the wire.
    public static func normalizingLineBreaks(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\r":
                result += "\r\n"
                previousWasCR = true
                continue
            case "\n":
                if !previousWasCR { result += "\r\n" }
            default:
                result.unicodeScalars.append(scalar)
            }
            previousWasCR = false
        }
        return result
    }

    /// Whether the text can stand in a header as it is.
    static func isPlainHeaderText(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
            && !text.contains("=?")
    }

    /// `=?UTF-8?B?…?=` words for the text, each holding whole characters (RFC 2047 §5 forbids splitting a
    /// character across words) and each at most `limit(index)` characters long.
    static func encodedWords(_ text: String, limit: (Int) -> Int) -> [String] {
        var words: [String] = []
        var chunk: [UInt8] = []
        func encodedLength(_ bytes: Int) -> Int { 12 + 4 * ((bytes + 2) / 3) }
        func flush() {
            words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
            chunk.removeAll()
        }
        for character in text {
            let bytes = Array(String(character).utf8)
            if !chunk.isEmpty, encodedLength(chunk.count + bytes.count) > limit(words.count) { flush() }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { flush() }
        return words
    }

    /// Quoted-printable for a body whose line breaks are already CRLF: lines of at most 76 characters with
    /// soft breaks, trailing whitespace encoded, everything outside printable ASCII as =XX.
    public static func quotedPrintable(_ text: String) -> String {
        var output = ""
        let lines = text.components(separatedBy: "\r\n")
        for (lineIndex, line) in lines.enumerated() {
            var current = ""
            let bytes = Array(line.utf8)
            for (index, byte) in bytes.enumerated() {
                let isLast = index == bytes.count - 1
                var token: String
                if (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=")) || ((byte == 0x20 || byte == 0x09) && !isLast) {
                    token = String(UnicodeScalar(byte))
                } else {
                    token = String(format: "=%02X", byte)
                }
                // A leading dot is encoded so that the body survives servers that do not undo dot-stuffing.
                if current.isEmpty && byte == UInt8(ascii: ".") { token = "=2E" }
                if current.count + token.count > 75 {
                    output += current + "=\r\n"
                    current = ""
                    if byte == UInt8(ascii: ".") { token = "=2E" }
                }
                current += token
            }
            output += current
            if lineIndex < lines.count - 1 { output += "\r\n" }
        }
        return output
    }

    /// Base64 in lines of 76 characters.
    public static func base64Lines(_ bytes: [UInt8]) -> String {
        let encoded = Array(Data(bytes).base64EncodedString().utf8)
        var lines: [String] = []
        var start = 0
        while start < encoded.count {
            let end = min(start + 76, encoded.count)
            lines.append(String(decoding: encoded[start..<end], as: UTF8.self))
            start = end
        }
        return lines.joined(separator: "\r\n")
    }
}

/// Builds one header field, folding it at token boundaries so that no line passes 78 characters.
struct HeaderFieldBuilder {
    private(set) var lines: [String]

    init(name: String) {
        lines = [name + ":"]
    }

    /// Characters still free on the current line for a token after a separating space.
    var remaining: Int { MIMEEncoding.maximumLineLength - lines[lines.count - 1].count - 1 }

    /// Adds a token after a space, on a new continuation line when it would pass 78 characters.
    mutating func append(_ token: String) {
        let last = lines[lines.count - 1]
        if last.isEmpty {
            lines[lines.count - 1] = " " + token
        } else if last.count + 1 + token.count > MIMEEncoding.maximumLineLength {
            lines.append(" " + token)
        } else {
            lines[lines.count - 1] += " " + token
        }
    }

    /// Adds text straight after the last token (the comma between addresses).
    mutating func attach(_ text: String) {
        lines[lines.count - 1] += text
    }

    /// Free text: kept as it is when it is plain ASCII, otherwise as encoded-words that fill each line.
    mutating func appendText(_ text: String) {
        if MIMEEncoding.isPlainHeaderText(text) {
            for word in text.split(separator: " ", omittingEmptySubsequences: false) { append(String(word)) }
            return
        }
        var firstRoom = remaining
        if firstRoom < 16 {
            lines.append("")
            firstRoom = MIMEEncoding.maximumLineLength - 1
        }
        let room = firstRoom
        let words = MIMEEncoding.encodedWords(text) { index in
            min(MIMEEncoding.maximumEncodedWordLength, index == 0 ? room : MIMEEncoding.maximumLineLength - 1)
        }
        for word in words {
            if lines[lines.count - 1].isEmpty {
                lines[lines.count - 1] = " " + word
            } else {
                append(word)
            }
        }
    }

    var field: String { lines.joined(separator: "\r\n") }
}
