package io.cxstream.connector.avro;

import java.util.ArrayList;
import java.util.List;

import org.apache.avro.JsonProperties;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.MapType;
import org.apache.flink.table.types.logical.RowType;

/**
 * Derives an Avro schema from a row type, for when 'cx-avro.schema' is not given (typically a
 * 'key.format' = 'cx-avro' whose key columns are a few scalars).
 *
 * <p>The derivation: a record named {@code Key} (nested rows: {@code Key_<field>}) in namespace
 * {@code io.cxstream.connector}, one field per column in column order, with
 * STRING/CHAR → string, BOOLEAN → boolean, INT → int, BIGINT → long, FLOAT → float,
 * DOUBLE → double, BYTES/BINARY → bytes, TIMESTAMP(3) and TIMESTAMP_LTZ(3) → long
 * timestamp-millis, ARRAY&lt;T&gt; → array, MAP&lt;STRING, T&gt; → map, ROW → record; a nullable column
 * becomes ["null", T] with default null. Producers that write such keys elsewhere must use the
 * same schema (or give the schema explicitly with 'key.cx-avro.schema').
 */
final class KeySchemas {

    static final String NAMESPACE = "io.cxstream.connector";

    private KeySchemas() {}

    static Schema derive(RowType row) {
        return record(row, "Key");
    }

    private static Schema record(RowType row, String name) {
        List<Schema.Field> fields = new ArrayList<>();
        for (RowType.RowField f : row.getFields()) {
            Schema s = type(f.getType(), name + "_" + f.getName());
            fields.add(f.getType().isNullable()
                    ? new Schema.Field(f.getName(), s, null, JsonProperties.NULL_VALUE)
                    : new Schema.Field(f.getName(), s));
        }
        return Schema.createRecord(name, null, NAMESPACE, false, fields);
    }

    private static Schema type(LogicalType t, String nestedName) {
        Schema s;
        switch (t.getTypeRoot()) {
            case CHAR:
            case VARCHAR: s = Schema.create(Schema.Type.STRING); break;
            case BOOLEAN: s = Schema.create(Schema.Type.BOOLEAN); break;
            case INTEGER: s = Schema.create(Schema.Type.INT); break;
            case BIGINT: s = Schema.create(Schema.Type.LONG); break;
            case FLOAT: s = Schema.create(Schema.Type.FLOAT); break;
            case DOUBLE: s = Schema.create(Schema.Type.DOUBLE); break;
            case BINARY:
            case VARBINARY: s = Schema.create(Schema.Type.BYTES); break;
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                s = LogicalTypes.timestampMillis().addToSchema(Schema.create(Schema.Type.LONG));
                break;
            case ARRAY: s = Schema.createArray(type(((ArrayType) t).getElementType(), nestedName)); break;
            case MAP: s = Schema.createMap(type(((MapType) t).getValueType(), nestedName)); break;
            case ROW: s = record((RowType) t, nestedName); break;
            default:
                throw new ValidationException("cx-avro: cannot derive an Avro type for " + t.asSummaryString()
                        + "; give the schema with the 'cx-avro.schema' option");
        }
        return t.isNullable() ? Schema.createUnion(Schema.create(Schema.Type.NULL), s) : s;
    }
}
