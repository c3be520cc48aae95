package io.cxstream.connector.avro;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.Decoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.Encoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.util.Utf8;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.MapData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.MapType;
import org.apache.flink.table.types.logical.RowType;

/**
 * Reads and writes plain Avro binary (no header, writer schema = reader schema) directly between
 * Avro's {@link Decoder}/{@link Encoder} and Flink's internal row data.
 *
 * <p>The schema and the table's row type are matched once, by field name, into a tree of small
 * readers and writers; per record there is no schema lookup, no GenericRecord in between and no
 * decoder/encoder allocation (they are reused). Incompatibilities are reported when the codec is
 * built, i.e. when the table is planned, not on the first record.
 *
 * <p>Decoding is strict, because a record that decodes "somehow" into wrong values is worse than
 * one sent to the dead-letter topic: trailing bytes, invalid UTF-8, unknown union branches and
 * nulls for NOT NULL columns all throw.
 *
 * <p>Instances are not thread-safe; each (de)serializer instance owns one.
 */
final class AvroRowCodec {

    @FunctionalInterface
    private interface Reader {
        Object read(Decoder in) throws IOException;
    }

    @FunctionalInterface
    private interface Writer {
        void write(Encoder out, Object value) throws IOException;
    }

    private final Schema schema;
    private final Reader rowReader;
    private final Writer rowWriter;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    private final Utf8 scratch = new Utf8();
    private BinaryDecoder decoder;
    private BinaryEncoder encoder;
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(256);

    /**
     * @param forReading build the reader (every table column must be an Avro field)
     * @param forWriting build the writer (every Avro field must be a table column or nullable)
     */
    AvroRowCodec(Schema schema, RowType rowType, boolean forReading, boolean forWriting) {
        if (schema.getType() != Schema.Type.RECORD) {
            throw new ValidationException("cx-avro: the schema must be an Avro record, got " + schema.getType());
        }
        this.schema = schema;
        this.rowReader = forReading ? recordReader(schema, rowType, "") : null;
        this.rowWriter = forWriting ? recordWriter(schema, rowType, "") : null;
    }

    RowData decode(byte[] bytes) throws IOException {
        decoder = DecoderFactory.get().binaryDecoder(bytes, decoder);
        RowData row = (RowData) rowReader.read(decoder);
        if (!decoder.isEnd()) {
            throw new IOException("bytes left over after a complete " + schema.getFullName()
                    + " record: not this schema, or not Avro");
        }
        return row;
    }

    byte[] encode(RowData row) throws IOException {
        buffer.reset();
        encoder = EncoderFactory.get().binaryEncoder(buffer, encoder);
        rowWriter.write(encoder, row);
        encoder.flush();
        return buffer.toByteArray();
    }

    // ---- readers ------------------------------------------------------------------------------

    private Reader recordReader(Schema record, RowType rowType, String path) {
        List<String> columns = rowType.getFieldNames();
        for (String column : columns) {
            if (record.getField(column) == null) {
                throw new ValidationException("cx-avro: column '" + path + column + "' is not a field of Avro record "
                        + record.getFullName() + " (fields: " + fieldNames(record) + ")");
            }
        }
        int arity = columns.size();
        List<Schema.Field> fields = record.getFields();
        Reader[] readers = new Reader[fields.size()];
        int[] positions = new int[fields.size()];
        for (int i = 0; i < fields.size(); i++) {
            Schema.Field f = fields.get(i);
            int pos = columns.indexOf(f.name());
            positions[i] = pos;
            readers[i] = pos < 0 ? skipper(f.schema())
                    : reader(f.schema(), rowType.getTypeAt(pos), path + f.name());
        }
        return in -> {
            GenericRowData row = new GenericRowData(arity);
            for (int i = 0; i < readers.length; i++) {
                Object v = readers[i].read(in);
                if (positions[i] >= 0) {
                    row.setField(positions[i], v);
                }
            }
            return row;
        };
    }

    private Reader reader(Schema s, org.apache.flink.table.types.logical.LogicalType t, String path) {
        if (s.getType() == Schema.Type.UNION) {
            List<Schema> branches = s.getTypes();
            Reader[] readers = new Reader[branches.size()];
            for (int i = 0; i < branches.size(); i++) {
                Schema b = branches.get(i);
                readers[i] = b.getType() == Schema.Type.NULL ? in -> null : reader(b, t, path);
            }
            boolean notNull = !t.isNullable();
            return in -> {
                int index = in.readIndex();
                if (index < 0 || index >= readers.length) {
                    throw new IOException("union branch " + index + " does not exist for field " + path);
                }
                Object v = readers[index].read(in);
                if (v == null && notNull) {
                    throw new IOException("null for NOT NULL column " + path);
                }
                return v;
            };
        }
        LogicalTypeRoot root = t.getTypeRoot();
        LogicalType logical = s.getLogicalType();
        switch (s.getType()) {
            case BOOLEAN:
                expect(root == LogicalTypeRoot.BOOLEAN, s, t, path);
                return Decoder::readBoolean;
            case INT:
                if (root == LogicalTypeRoot.BIGINT) {
                    return in -> (long) in.readInt();
                }
                expect(root == LogicalTypeRoot.INTEGER, s, t, path);
                return Decoder::readInt;
            case LONG:
                if (isTimestamp(root)) {
                    expect(logical instanceof LogicalTypes.TimestampMillis || logical instanceof LogicalTypes.TimestampMicros,
                            s, t, path);
                    if (logical instanceof LogicalTypes.TimestampMicros) {
                        return in -> {
                            long micros = in.readLong();
                            return TimestampData.fromEpochMillis(Math.floorDiv(micros, 1000L),
                                    (int) Math.floorMod(micros, 1000L) * 1000);
                        };
                    }
                    return in -> TimestampData.fromEpochMillis(in.readLong());
                }
                expect(root == LogicalTypeRoot.BIGINT, s, t, path);
                return Decoder::readLong;
            case FLOAT:
                if (root == LogicalTypeRoot.DOUBLE) {
                    return in -> (double) in.readFloat();
                }
                expect(root == LogicalTypeRoot.FLOAT, s, t, path);
                return Decoder::readFloat;
            case DOUBLE:
                expect(root == LogicalTypeRoot.DOUBLE, s, t, path);
                return Decoder::readDouble;
            case STRING:
                expect(isString(root), s, t, path);
                return this::readUtf8;
            case ENUM: {
                expect(isString(root), s, t, path);
                StringData[] symbols = s.getEnumSymbols().stream().map(StringData::fromString).toArray(StringData[]::new);
                return in -> {
                    int i = in.readEnum();
                    if (i < 0 || i >= symbols.length) {
                        throw new IOException("enum index " + i + " out of range for field " + path);
                    }
                    return symbols[i];
                };
            }
            case BYTES:
                expect(isBinary(root), s, t, path);
                return in -> {
                    ByteBuffer b = in.readBytes(null);
                    byte[] out = new byte[b.remaining()];
                    b.get(out);
                    return out;
                };
            case FIXED: {
                expect(isBinary(root), s, t, path);
                int size = s.getFixedSize();
                return in -> {
                    byte[] out = new byte[size];
                    in.readFixed(out);
                    return out;
                };
            }
            case ARRAY: {
                expect(root == LogicalTypeRoot.ARRAY, s, t, path);
                Reader item = reader(s.getElementType(), ((ArrayType) t).getElementType(), path + "[]");
                return in -> {
                    List<Object> items = new ArrayList<>();
                    for (long n = in.readArrayStart(); n != 0; n = in.arrayNext()) {
                        for (long i = 0; i < n; i++) {
                            items.add(item.read(in));
                        }
                    }
                    return new GenericArrayData(items.toArray());
                };
            }
            case MAP: {
                expect(root == LogicalTypeRoot.MAP && isString(((MapType) t).getKeyType().getTypeRoot()), s, t, path);
                Reader value = reader(s.getValueType(), ((MapType) t).getValueType(), path + "{}");
                return in -> {
                    Map<Object, Object> entries = new HashMap<>();
                    for (long n = in.readMapStart(); n != 0; n = in.mapNext()) {
                        for (long i = 0; i < n; i++) {
                            entries.put(readUtf8(in), value.read(in));
                        }
                    }
                    return new GenericMapData(entries);
                };
            }
            case RECORD:
                expect(root == LogicalTypeRoot.ROW, s, t, path);
                return recordReader(s, (RowType) t, path + ".");
            default:
                throw incompatible(s, t, path);
        }
    }

    private StringData readUtf8(Decoder in) throws IOException {
        Utf8 u = in.readString(scratch);
        byte[] bytes = Arrays.copyOf(u.getBytes(), u.getByteLength());
        try {
            // Avro does not validate UTF-8; Flink would carry the broken bytes into every operator.
            utf8.reset().decode(ByteBuffer.wrap(bytes));
        } catch (CharacterCodingException e) {
            throw new IOException("string is not valid UTF-8");
        }
        return StringData.fromBytes(bytes);
    }

    /** Consumes a field the table does not have. */
    private Reader skipper(Schema s) {
        return in -> {
            skip(s, in);
            return null;
        };
    }

    private static void skip(Schema s, Decoder in) throws IOException {
        switch (s.getType()) {
            case NULL: return;
            case BOOLEAN: in.readBoolean(); return;
            case INT: in.readInt(); return;
            case LONG: in.readLong(); return;
            case FLOAT: in.readFloat(); return;
            case DOUBLE: in.readDouble(); return;
            case STRING: in.skipString(); return;
            case BYTES: in.skipBytes(); return;
            case FIXED: in.skipFixed(s.getFixedSize()); return;
            case ENUM: in.readEnum(); return;
            case UNION: {
                int i = in.readIndex();
                if (i < 0 || i >= s.getTypes().size()) {
                    throw new IOException("union branch " + i + " does not exist");
                }
                skip(s.getTypes().get(i), in);
                return;
            }
            case ARRAY:
                for (long n = in.readArrayStart(); n != 0; n = in.arrayNext()) {
                    for (long i = 0; i < n; i++) {
                        skip(s.getElementType(), in);
                    }
                }
                return;
            case MAP:
                for (long n = in.readMapStart(); n != 0; n = in.mapNext()) {
                    for (long i = 0; i < n; i++) {
                        in.skipString();
                        skip(s.getValueType(), in);
                    }
                }
                return;
            case RECORD:
                for (Schema.Field f : s.getFields()) {
                    skip(f.schema(), in);
                }
                return;
            default:
                throw new IOException("cannot skip Avro type " + s.getType());
        }
    }

    // ---- writers ------------------------------------------------------------------------------

    private Writer recordWriter(Schema record, RowType rowType, String path) {
        List<String> columns = rowType.getFieldNames();
        for (String column : columns) {
            if (record.getField(column) == null) {
                throw new ValidationException("cx-avro: column '" + path + column + "' is not a field of Avro record "
                        + record.getFullName() + " (fields: " + fieldNames(record) + ")");
            }
        }
        List<Schema.Field> fields = record.getFields();
        Writer[] writers = new Writer[fields.size()];
        RowData.FieldGetter[] getters = new RowData.FieldGetter[fields.size()];
        for (int i = 0; i < fields.size(); i++) {
            Schema.Field f = fields.get(i);
            int pos = columns.indexOf(f.name());
            if (pos < 0) {
                // The table does not have it: write null, which the schema must allow.
                if (nullBranch(f.schema()) < 0) {
                    throw new ValidationException("cx-avro: Avro field '" + path + f.name()
                            + "' is required but the table has no such column");
                }
                writers[i] = writer(f.schema(), null, path + f.name());
                getters[i] = row -> null;
            } else {
                writers[i] = writer(f.schema(), rowType.getTypeAt(pos), path + f.name());
                getters[i] = RowData.createFieldGetter(rowType.getTypeAt(pos), pos);
            }
        }
        return (out, value) -> {
            RowData row = (RowData) value;
            for (int i = 0; i < writers.length; i++) {
                writers[i].write(out, getters[i].getFieldOrNull(row));
            }
        };
    }

    private static int nullBranch(Schema s) {
        if (s.getType() != Schema.Type.UNION) {
            return s.getType() == Schema.Type.NULL ? 0 : -1;
        }
        List<Schema> branches = s.getTypes();
        for (int i = 0; i < branches.size(); i++) {
            if (branches.get(i).getType() == Schema.Type.NULL) {
                return i;
            }
        }
        return -1;
    }

    /** @param t the column's type, or null for a column the table does not have (always null). */
    private Writer writer(Schema s, org.apache.flink.table.types.logical.LogicalType t, String path) {
        if (s.getType() == Schema.Type.UNION) {
            List<Schema> branches = s.getTypes();
            int nullIndex = nullBranch(s);
            List<Integer> others = new ArrayList<>();
            for (int i = 0; i < branches.size(); i++) {
                if (i != nullIndex) {
                    others.add(i);
                }
            }
            if (others.size() > 1) {
                throw new ValidationException("cx-avro: field '" + path + "': only unions of null and one type are supported");
            }
            int valueIndex = others.isEmpty() ? -1 : others.get(0);
            Writer value = valueIndex < 0 || t == null ? null : writer(branches.get(valueIndex), t, path);
            return (out, v) -> {
                if (v == null) {
                    if (nullIndex < 0) {
                        throw new IOException("null for non-nullable Avro field " + path);
                    }
                    out.writeIndex(nullIndex);
                } else {
                    out.writeIndex(valueIndex);
                    value.write(out, v);
                }
            };
        }
        if (t == null) {
            return (out, v) -> out.writeNull();
        }
        Writer w = valueWriter(s, t, path);
        return (out, v) -> {
            if (v == null) {
                throw new IOException("null for non-nullable Avro field " + path + " (make it [\"null\", ...])");
            }
            w.write(out, v);
        };
    }

    private Writer valueWriter(Schema s, org.apache.flink.table.types.logical.LogicalType t, String path) {
        LogicalTypeRoot root = t.getTypeRoot();
        LogicalType logical = s.getLogicalType();
        switch (s.getType()) {
            case NULL:
                return (out, v) -> out.writeNull();
            case BOOLEAN:
                expect(root == LogicalTypeRoot.BOOLEAN, s, t, path);
                return (out, v) -> out.writeBoolean((Boolean) v);
            case INT:
                expect(root == LogicalTypeRoot.INTEGER, s, t, path);
                return (out, v) -> out.writeInt((Integer) v);
            case LONG:
                if (isTimestamp(root)) {
                    expect(logical instanceof LogicalTypes.TimestampMillis || logical instanceof LogicalTypes.TimestampMicros,
                            s, t, path);
                    if (logical instanceof LogicalTypes.TimestampMicros) {
                        return (out, v) -> {
                            TimestampData ts = (TimestampData) v;
                            out.writeLong(ts.getMillisecond() * 1000L + ts.getNanoOfMillisecond() / 1000);
                        };
                    }
                    return (out, v) -> out.writeLong(((TimestampData) v).getMillisecond());
                }
                if (root == LogicalTypeRoot.INTEGER) {
                    return (out, v) -> out.writeLong((Integer) v);
                }
                expect(root == LogicalTypeRoot.BIGINT, s, t, path);
                return (out, v) -> out.writeLong((Long) v);
            case FLOAT:
                expect(root == LogicalTypeRoot.FLOAT, s, t, path);
                return (out, v) -> out.writeFloat((Float) v);
            case DOUBLE:
                if (root == LogicalTypeRoot.FLOAT) {
                    return (out, v) -> out.writeDouble((Float) v);
                }
                expect(root == LogicalTypeRoot.DOUBLE, s, t, path);
                return (out, v) -> out.writeDouble((Double) v);
            case STRING:
                expect(isString(root), s, t, path);
                return (out, v) -> out.writeString(new Utf8(((StringData) v).toBytes()));
            case ENUM: {
                expect(isString(root), s, t, path);
                List<String> symbols = s.getEnumSymbols();
                return (out, v) -> {
                    int i = symbols.indexOf(v.toString());
                    if (i < 0) {
                        throw new IOException("'" + v + "' is not a symbol of enum " + s.getFullName() + " (" + path + ")");
                    }
                    out.writeEnum(i);
                };
            }
            case BYTES:
                expect(isBinary(root), s, t, path);
                return (out, v) -> out.writeBytes((byte[]) v);
            case FIXED: {
                expect(isBinary(root), s, t, path);
                int size = s.getFixedSize();
                return (out, v) -> {
                    byte[] b = (byte[]) v;
                    if (b.length != size) {
                        throw new IOException(path + ": fixed(" + size + ") got " + b.length + " bytes");
                    }
                    out.writeFixed(b);
                };
            }
            case ARRAY: {
                expect(root == LogicalTypeRoot.ARRAY, s, t, path);
                org.apache.flink.table.types.logical.LogicalType itemType = ((ArrayType) t).getElementType();
                Writer item = writer(s.getElementType(), itemType, path + "[]");
                ArrayData.ElementGetter get = ArrayData.createElementGetter(itemType);
                return (out, v) -> {
                    ArrayData a = (ArrayData) v;
                    out.writeArrayStart();
                    out.setItemCount(a.size());
                    for (int i = 0; i < a.size(); i++) {
                        out.startItem();
                        item.write(out, get.getElementOrNull(a, i));
                    }
                    out.writeArrayEnd();
                };
            }
            case MAP: {
                MapType mt = root == LogicalTypeRoot.MAP ? (MapType) t : null;
                expect(mt != null && isString(mt.getKeyType().getTypeRoot()), s, t, path);
                Writer value = writer(s.getValueType(), mt.getValueType(), path + "{}");
                ArrayData.ElementGetter getKey = ArrayData.createElementGetter(mt.getKeyType());
                ArrayData.ElementGetter getValue = ArrayData.createElementGetter(mt.getValueType());
                return (out, v) -> {
                    MapData m = (MapData) v;
                    ArrayData keys = m.keyArray();
                    ArrayData values = m.valueArray();
                    out.writeMapStart();
                    out.setItemCount(m.size());
                    for (int i = 0; i < m.size(); i++) {
                        out.startItem();
                        Object k = getKey.getElementOrNull(keys, i);
                        if (k == null) {
                            throw new IOException("null map key in " + path);
                        }
                        out.writeString(new Utf8(((StringData) k).toBytes()));
                        value.write(out, getValue.getElementOrNull(values, i));
                    }
                    out.writeMapEnd();
                };
            }
            case RECORD:
                expect(root == LogicalTypeRoot.ROW, s, t, path);
                return recordWriter(s, (RowType) t, path + ".");
            default:
                throw incompatible(s, t, path);
        }
    }

    // ---- type matching ------------------------------------------------------------------------

    private static boolean isTimestamp(LogicalTypeRoot root) {
        return root == LogicalTypeRoot.TIMESTAMP_WITH_LOCAL_TIME_ZONE || root == LogicalTypeRoot.TIMESTAMP_WITHOUT_TIME_ZONE;
    }

    private static boolean isString(LogicalTypeRoot root) {
        return root == LogicalTypeRoot.VARCHAR || root == LogicalTypeRoot.CHAR;
    }

    private static boolean isBinary(LogicalTypeRoot root) {
        return root == LogicalTypeRoot.VARBINARY || root == LogicalTypeRoot.BINARY;
    }

    private static void expect(boolean ok, Schema s, org.apache.flink.table.types.logical.LogicalType t, String path) {
        if (!ok) {
            throw incompatible(s, t, path);
        }
    }

    private static ValidationException incompatible(Schema s, org.apache.flink.table.types.logical.LogicalType t, String path) {
        return new ValidationException("cx-avro: column '" + path + "' has type " + t.asSummaryString()
                + ", which does not match its Avro type " + s);
    }

    private static List<String> fieldNames(Schema record) {
        List<String> out = new ArrayList<>();
        record.getFields().forEach(f -> out.add(f.name()));
        return out;
    }
}
