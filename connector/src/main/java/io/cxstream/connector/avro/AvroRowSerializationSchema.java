package io.cxstream.connector.avro;

import java.io.IOException;
import java.io.UncheckedIOException;

import org.apache.avro.Schema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;

/** RowData → plain Avro binary, the layout fastavro's schemaless_reader expects. */
final class AvroRowSerializationSchema implements SerializationSchema<RowData> {

    private static final long serialVersionUID = 1L;

    private final String schemaJson;
    private final RowType rowType;
    private transient AvroRowCodec codec;

    AvroRowSerializationSchema(String schemaJson, RowType rowType) {
        this.schemaJson = schemaJson;
        this.rowType = rowType;
    }

    @Override
    public void open(InitializationContext context) {
        codec = new AvroRowCodec(new Schema.Parser().parse(schemaJson), rowType, false, true);
    }

    @Override
    public byte[] serialize(RowData row) {
        if (codec == null) {
            open(null);
        }
        try {
            return codec.encode(row);
        } catch (IOException e) {
            throw new UncheckedIOException("cx-avro: cannot encode row " + row, e);
        }
    }
}
