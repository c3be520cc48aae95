package io.cxstream.connector.avro;

import java.io.IOException;

import org.apache.avro.Schema;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;

/** Plain Avro binary → RowData. A null message (tombstone) yields no row. */
final class AvroRowDeserializationSchema implements DeserializationSchema<RowData> {

    private static final long serialVersionUID = 1L;

    private final String schemaJson;   // Avro's Schema is not reliably Serializable across versions
    private final RowType rowType;
    private final TypeInformation<RowData> producedType;
    private transient AvroRowCodec codec;

    AvroRowDeserializationSchema(String schemaJson, RowType rowType, TypeInformation<RowData> producedType) {
        this.schemaJson = schemaJson;
        this.rowType = rowType;
        this.producedType = producedType;
    }

    @Override
    public void open(InitializationContext context) {
        codec = new AvroRowCodec(new Schema.Parser().parse(schemaJson), rowType, true, false);
    }

    @Override
    public RowData deserialize(byte[] message) throws IOException {
        if (message == null) {
            return null;
        }
        if (codec == null) {
            open(null);
        }
        try {
            return codec.decode(message);
        } catch (IOException e) {
            throw e;
        } catch (RuntimeException e) {
            // Avro reports some malformed input as unchecked exceptions (negative lengths, ...).
            throw new IOException("malformed Avro: " + e, e);
        }
    }

    @Override
    public boolean isEndOfStream(RowData nextElement) {
        return false;
    }

    @Override
    public TypeInformation<RowData> getProducedType() {
        return producedType;
    }
}
