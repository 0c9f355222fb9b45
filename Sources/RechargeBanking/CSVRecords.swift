/// RFC 4180 record splitting, with the physical line each record starts on for error messages.
enum CSVRecords {
    struct Record {
        var line: Int
        var fields: [String]
    }

    /// Works on Unicode scalars because Swift treats "\r\n" as one `Character`, which would hide the
    /// line ends the format is defined by.
    static func split(_ text: String) throws(BankingError) -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var quotedFieldLine = 1
        var afterClosingQuote = false
        var fieldStarted = false
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil

        func endField() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
            afterClosingQuote = false
            fieldStarted = false
        }
        func endRecord() {
            endField()
            records.append(Record(line: recordLine, fields: fields))
            fields = []
        }

        while let scalar = pending ?? scalars.next() {
            pending = nil
            if inQuotes {
                if scalar == "\"" {
                    let next = scalars.next()
                    if next == "\"" {
                        field.append("\"")
                    } else {
                        inQuotes = false
                        afterClosingQuote = true
                        pending = next
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.append(scalar)
                }
                continue
            }
            switch scalar {
            case ",":
                endField()
            case "\r", "\n":
                if scalar == "\r" {
                    let next = scalars.next()
                    if next != "\n" { pending = next }
                }
                endRecord()
                line += 1
                recordLine = line
            case "\"":
                guard !fieldStarted, !afterClosingQuote else {
                    throw .invalidCSV(line: line, reason: "a quote inside a field that is not quoted (quote the field and double the quote)")
                }
                inQuotes = true
                fieldStarted = true
                quotedFieldLine = line
            default:
                guard !afterClosingQuote else {
                    throw .invalidCSV(line: line, reason: "text after a closing quote; expected a comma or the end of the line")
                }
                field.append(scalar)
                fieldStarted = true
            }
        }
        if inQuotes { throw .invalidCSV(line: quotedFieldLine, reason: "a quoted field is never closed") }
        if fieldStarted || !fields.isEmpty || afterClosingQuote { endRecord() }
        return records
    }
}
