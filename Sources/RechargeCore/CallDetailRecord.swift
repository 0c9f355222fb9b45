import Foundation

// Offline usage (issue 17, "CDR import"): a network's call detail records, read from CSV into typed records without a
// database. Each bad row becomes a rejection with its line number and a reason with a stable code; the rest go on to
// be rated and charged by the store (CDRImportStore). docs/cdr.md describes the format.

/// One usage record from a CDR file, checked: who, what, when, how much, to where, from where.
public struct CallDetailRecord: Sendable, Equatable {
    /// The line of the file the record starts on (1 is the header).
    public let lineNumber: Int
    /// The network's id of the record (1–128 bytes): the record's idempotency key, charged once however often it is sent.
    public let recordID: String
    public let msisdn: MSISDN
    /// What was used, to where, from where and when (the use a charging session would describe).
    public let use: ChargedUse
    /// Seconds (voice), messages (SMS), bytes (data) or units (another service).
    public let quantity: Int64

    public init(lineNumber: Int, recordID: String, msisdn: MSISDN, use: ChargedUse, quantity: Int64) {
        self.lineNumber = lineNumber
        self.recordID = recordID
        self.msisdn = msisdn
        self.use = use
        self.quantity = quantity
    }
}

/// Why a row of a CDR file was not imported. The code is stable (the API and `recharge cdr rejects` show it); the
/// detail says what to fix.
public enum CDRRejection: Sendable, Equatable, Error {
    /// The row is not well-formed CSV (an unterminated quote, text after a closing quote) or has the wrong number of fields.
    case malformedRow(String)
    /// A required field is empty.
    case missingField(String)
    /// A field is present but not valid.
    case invalidField(field: String, detail: String)
    /// The row names its subscriber by IMSI only: lines do not store IMSIs (yet), so it cannot be matched to a line.
    case imsiNotSupported(String)
    /// The same record id appears earlier in the same file.
    case duplicateRecordID(recordID: String, firstLine: Int)
    /// No line has this number.
    case unknownNumber(String)
    /// The line is suspended or terminated (free and emergency numbers excepted): nothing can be charged to it.
    case lineNotActive(msisdn: String, status: String)
    /// Rating failed: no tariff for this service, destination and place (or the catalog has no rating section).
    case notRated(String)

    public var code: String {
        switch self {
        case .malformedRow: "malformed-row"
        case .missingField: "missing-field"
        case .invalidField: "invalid-field"
        case .imsiNotSupported: "imsi-not-supported"
        case .duplicateRecordID: "duplicate-record-id"
        case .unknownNumber: "unknown-number"
        case .lineNotActive: "line-not-active"
        case .notRated: "not-rated"
        }
    }

    public var detail: String {
        switch self {
        case .malformedRow(let detail): detail
        case .missingField(let field): "'\(field)' is empty"
        case .invalidField(let field, let detail): "'\(field)': \(detail)"
        case .imsiNotSupported(let imsi):
            "the row names IMSI \(imsi) without an msisdn: lines do not store IMSIs, so give the line's number in 'msisdn'"
        case .duplicateRecordID(let id, let first): "record id '\(id)' is already used on line \(first) of this file"
        case .unknownNumber(let msisdn): "no line has the number \(msisdn)"
        case .lineNotActive(let msisdn, let status): "the line \(msisdn) is \(status): usage cannot be charged to it"
        case .notRated(let reason): reason
        }
    }
}

/// A rejected row: where it is, its record id when it had one, and why.
public struct CDRReject: Sendable, Equatable {
    public let lineNumber: Int
    public let recordID: String?
    public let reason: CDRRejection

    public init(lineNumber: Int, recordID: String?, reason: CDRRejection) {
        self.lineNumber = lineNumber
        self.recordID = recordID
        self.reason = reason
    }
}

/// The file as a whole cannot be read (no header, a required column missing, an unknown column): nothing is imported.
public struct CDRFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { detail }
}

/// Reads a CDR file (UTF-8 CSV, RFC 4180 quoting, a header row naming the columns) a chunk of rows at a time, so an
/// import of a million rows never holds them all as records. Duplicate record ids are caught across the whole file.
///
/// Columns (any order, names as written here; docs/cdr.md): `record_id`, `msisdn` (or `imsi`), `service`, `start`,
/// `quantity`, `destination` (optional column), `visited` (optional column).
public struct CDRReader: Sendable {
    public static let columns = ["record_id", "msisdn", "imsi", "service", "start", "quantity", "destination", "visited"]
    public static let requiredColumns = ["record_id", "service", "start", "quantity"]
    /// The longest record id.
    public static let maximumRecordIDBytes = 128

    private let bytes: [UInt8]
    private var position: Int
    private var line: Int
    private let index: [String: Int]
    private let fieldCount: Int
    private var seen: [String: Int] = [:]
    /// Rows read so far (good and bad, not the header).
    public private(set) var rowsRead = 0
    /// How far into the file reading is, and its size, in bytes: for a progress bar.
    public var bytesRead: Int { position }
    public var byteCount: Int { bytes.count }

    /// Reads the header. Throws when the file is empty, or the header lacks a required column, or names one this
    /// format does not have, twice, or neither `msisdn` nor `imsi`.
    public init(_ data: Data) throws(CDRFileError) {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        self.bytes = bytes
        self.position = 0
        self.line = 1
        var header: [String] = []
        var probe = (position: 0, line: 1)
        switch Self.readRow(bytes, &probe.position, &probe.line) {
        case .none: throw CDRFileError("the file is empty: a CDR file starts with a header row (record_id,msisdn,service,start,quantity,destination,visited)")
        case .failure(let error): throw CDRFileError("the header row: \(error)")
        case .row(let fields, _): header = fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        }
        var index: [String: Int] = [:]
        for (position, name) in header.enumerated() {
            guard Self.columns.contains(name) else {
                throw CDRFileError("unknown column '\(name)' in the header: the columns are \(Self.columns.joined(separator: ", "))")
            }
            guard index[name] == nil else { throw CDRFileError("column '\(name)' appears twice in the header") }
            index[name] = position
        }
        for name in Self.requiredColumns where index[name] == nil {
            throw CDRFileError("the header has no '\(name)' column")
        }
        guard index["msisdn"] != nil || index["imsi"] != nil else { throw CDRFileError("the header has neither an 'msisdn' nor an 'imsi' column") }
        self.index = index
        self.fieldCount = header.count
        self.position = probe.position
        self.line = probe.line
    }

    /// The next up to `limit` rows: the good records and the rejected rows, in file order; both empty at the end.
    public mutating func next(_ limit: Int) -> (records: [CallDetailRecord], rejects: [CDRReject]) {
        var records: [CallDetailRecord] = []
        var rejects: [CDRReject] = []
        records.reserveCapacity(limit)
        var count = 0
        while count < limit {
            let start = line
            switch Self.readRow(bytes, &position, &line) {
            case .none: return (records, rejects)
            case .failure(let detail):
                count += 1
                rowsRead += 1
                rejects.append(CDRReject(lineNumber: start, recordID: nil, reason: .malformedRow(detail)))
            case .row(let fields, let blank):
                if blank { continue }
                count += 1
                rowsRead += 1
                guard fields.count == fieldCount else {
                    rejects.append(CDRReject(lineNumber: start, recordID: nil,
                                             reason: .malformedRow("the row has \(fields.count) fields; the header names \(fieldCount)")))
                    continue
                }
                let recordID = index["record_id"].flatMap { fields[$0].isEmpty ? nil : String(fields[$0].prefix(Self.maximumRecordIDBytes)) }
                switch Result(catching: { () throws(CDRRejection) -> CallDetailRecord in try parse(fields, line: start) }) {
                case .success(let record):
                    if let first = seen[record.recordID] {
                        rejects.append(CDRReject(lineNumber: start, recordID: recordID,
                                                 reason: .duplicateRecordID(recordID: record.recordID, firstLine: first)))
                    } else {
                        seen[record.recordID] = start
                        records.append(record)
                    }
                case .failure(let reason):
                    rejects.append(CDRReject(lineNumber: start, recordID: recordID, reason: reason))
                }
            }
        }
        return (records, rejects)
    }

    /// The named field without surrounding spaces and tabs ("" when the column is absent). Trimmed on the UTF-8 view:
    /// Foundation's trimming costs more than the rest of a row's checks.
    private func field(_ fields: [String], _ name: String) -> String {
        guard let position = index[name] else { return "" }
        let text = fields[position]
        let utf8 = text.utf8
        guard let first = utf8.first, let last = utf8.last, first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09 else { return text }
        guard let start = utf8.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }), let end = utf8.lastIndex(where: { $0 != 0x20 && $0 != 0x09 }) else {
            return ""
        }
        return String(text[start...end])
    }

    /// One row's fields checked into a record.
    private func parse(_ fields: [String], line: Int) throws(CDRRejection) -> CallDetailRecord {
        let recordID = index["record_id"].map { fields[$0] } ?? ""
        guard !recordID.isEmpty else { throw .missingField("record_id") }
        guard recordID.utf8.count <= Self.maximumRecordIDBytes, recordID.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
            throw .invalidField(field: "record_id", detail: "1 to \(Self.maximumRecordIDBytes) bytes without control characters")
        }
        let msisdnText = field(fields, "msisdn")
        let imsi = field(fields, "imsi")
        let msisdn: MSISDN
        if msisdnText.isEmpty {
            if !imsi.isEmpty { throw .imsiNotSupported(imsi) }
            throw .missingField("msisdn")
        }
        do { msisdn = try MSISDN(msisdnText) } catch { throw .invalidField(field: "msisdn", detail: error.detail) }

        let serviceText = field(fields, "service")
        guard !serviceText.isEmpty else { throw .missingField("service") }
        let service: ChargedService
        do { service = try ChargedService(serviceText.lowercased()) } catch {
            throw .invalidField(field: "service", detail: "voice, sms, data, or a service id of lower-case letters, digits and dashes")
        }

        let startText = field(fields, "start")
        guard !startText.isEmpty else { throw .missingField("start") }
        guard let start = CDRTimestamp.date(startText) else {
            throw .invalidField(field: "start", detail: "an RFC 3339 date-time with its offset, such as 2026-12-04T21:30:00+08:00")
        }

        let quantityText = field(fields, "quantity")
        guard !quantityText.isEmpty else { throw .missingField("quantity") }
        guard let quantity = Int64(quantityText), quantity >= 0, quantity <= TopUpCommand.maximumAmount else {
            throw .invalidField(field: "quantity", detail: "a whole number of seconds (voice), messages (sms), bytes (data) or units, 0 or more")
        }

        let destinationText = field(fields, "destination")
        var destination: String?
        if service == .data {
            guard destinationText.isEmpty else { throw .invalidField(field: "destination", detail: "a data record has no destination") }
        } else if destinationText.isEmpty {
            if service == .voice || service == .sms { throw .missingField("destination") }
        } else {
            let digits = destinationText.hasPrefix("+") ? String(destinationText.dropFirst()) : destinationText
            guard (1...15).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw .invalidField(field: "destination", detail: "an E.164 number (+8613800138000) or a short code (112)")
            }
            destination = digits
        }

        let visited = field(fields, "visited")
        var country: String?
        var network: String?
        if !visited.isEmpty {
            let utf8 = visited.utf8
            if utf8.count == 2, utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }) {
                country = visited.uppercased()
            } else if (5...6).contains(utf8.count), utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                network = visited
            } else {
                throw .invalidField(field: "visited", detail: "an ISO 3166 country (JP) or a network's MCC+MNC (44010); empty at home")
            }
        }
        let use = ChargedUse(service: service, destination: destination, visitedCountry: country, visitedNetwork: network, start: start)
        return CallDetailRecord(lineNumber: line, recordID: recordID, msisdn: msisdn, use: use, quantity: quantity)
    }

    private enum RowRead {
        case none
        case failure(String)
        /// `blank`: an empty line, skipped (a trailing newline, a blank line between rows).
        case row([String], blank: Bool)
    }

    /// Reads one RFC 4180 row from `position`, counting newlines into `line`. A quoted field may hold commas, quotes
    /// (doubled) and newlines. A malformed row is skipped to its end so the next row reads cleanly.
    private static func readRow(_ bytes: [UInt8], _ position: inout Int, _ line: inout Int) -> RowRead {
        guard position < bytes.count else { return .none }
        var fields: [String] = []
        var failure: String?
        let count = bytes.count
        while true {
            // One field.
            if position < count, bytes[position] == 0x22 {
                position += 1
                var value: [UInt8] = []
                var closed = false
                while position < count {
                    let byte = bytes[position]
                    if byte == 0x22 {
                        if position + 1 < count, bytes[position + 1] == 0x22 {
                            value.append(0x22)
                            position += 2
                            continue
                        }
                        position += 1
                        closed = true
                        break
                    }
                    if byte == 0x0A { line += 1 }
                    value.append(byte)
                    position += 1
                }
                if !closed { failure = failure ?? "a quoted field is not closed" }
                fields.append(String(decoding: value, as: UTF8.self))
                if position < count, bytes[position] != 0x2C, bytes[position] != 0x0A, bytes[position] != 0x0D {
                    failure = failure ?? "text after a closing quote"
                    while position < count, bytes[position] != 0x2C, bytes[position] != 0x0A { position += 1 }
                }
            } else {
                let start = position
                while position < count, bytes[position] != 0x2C, bytes[position] != 0x0A, bytes[position] != 0x0D {
                    if bytes[position] == 0x22 { failure = failure ?? "a quote inside an unquoted field" }
                    position += 1
                }
                fields.append(String(decoding: bytes[start..<position], as: UTF8.self))
            }
            if position >= count { break }
            let byte = bytes[position]
            if byte == 0x2C {
                position += 1
                continue
            }
            if byte == 0x0D {
                position += 1
                if position < count, bytes[position] == 0x0A { position += 1 }
            } else {
                position += 1
            }
            line += 1
            break
        }
        if let failure { return .failure(failure) }
        return .row(fields, blank: fields.count == 1 && fields[0].isEmpty)
    }
}

/// RFC 3339 date-times (`2026-12-04T21:30:00+08:00`, `2026-12-04T13:30:00.250Z`), read on the bytes: an import of a
/// million records cannot afford a formatter per row. The offset is required (a record's time is never guessed).
public enum CDRTimestamp {
    public static func date(_ text: String) -> Date? {
        var utf8 = Array(text.utf8)
        guard utf8.count >= 20 else { return nil }
        if utf8[10] == 0x74 || utf8[10] == 0x20 { utf8[10] = 0x54 }  // 't' or ' ' for 'T', as RFC 3339 allows
        func number(_ from: Int, _ length: Int) -> Int? {
            var value = 0
            for index in from..<(from + length) {
                let byte = utf8[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard utf8[4] == 0x2D, utf8[7] == 0x2D, utf8[10] == 0x54, utf8[13] == 0x3A, utf8[16] == 0x3A,
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var position = 19
        var fraction = 0.0
        if position < utf8.count, utf8[position] == 0x2E {
            position += 1
            var scale = 0.1
            let first = position
            while position < utf8.count, utf8[position] >= 0x30, utf8[position] <= 0x39 {
                fraction += Double(utf8[position] - 0x30) * scale
                scale /= 10
                position += 1
            }
            guard position > first else { return nil }
        }
        guard position < utf8.count else { return nil }
        var offset = 0
        switch utf8[position] {
        case 0x5A, 0x7A:
            guard position + 1 == utf8.count else { return nil }
        case 0x2B, 0x2D:
            guard position + 6 == utf8.count, utf8[position + 3] == 0x3A, let hours = number(position + 1, 2), let minutes = number(position + 4, 2),
                  hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 60 + minutes) * 60 * (utf8[position] == 0x2D ? -1 : 1)
        default: return nil
        }
        // Days from civil (Howard Hinnant's algorithm), checked against the month's length.
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= lengths[month - 1] else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + min(second, 59) - offset
        return Date(timeIntervalSince1970: TimeInterval(seconds) + fraction)
    }
}
