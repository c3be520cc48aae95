package io.cxstream.connector.source;

import java.io.Serializable;
import java.util.List;

import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Where the decoded key and value fields and the metadata go in the produced row:
 * {@code [physical columns in table order..., metadata columns in requested order...]}.
 */
final class RowLayout implements Serializable {

    private static final long serialVersionUID = 1L;

    private final int physicalArity;
    private final int[] keyPositions;      // key row field i → physical column keyPositions[i]
    private final int[] valuePositions;    // value row field i → physical column valuePositions[i]
    private final LogicalType[] keyTypes;
    private final LogicalType[] valueTypes;
    private final ReadableMetadata[] metadata;

    private transient RowData.FieldGetter[] keyGetters;
    private transient RowData.FieldGetter[] valueGetters;

    RowLayout(int physicalArity, int[] keyPositions, int[] valuePositions, List<LogicalType> physicalTypes,
              List<String> metadataKeys) {
        this.physicalArity = physicalArity;
        this.keyPositions = keyPositions;
        this.valuePositions = valuePositions;
        this.keyTypes = new LogicalType[keyPositions.length];
        for (int i = 0; i < keyPositions.length; i++) {
            keyTypes[i] = physicalTypes.get(keyPositions[i]);
        }
        this.valueTypes = new LogicalType[valuePositions.length];
        for (int i = 0; i < valuePositions.length; i++) {
            valueTypes[i] = physicalTypes.get(valuePositions[i]);
        }
        this.metadata = metadataKeys.stream().map(ReadableMetadata::of).toArray(ReadableMetadata[]::new);
    }

    private static RowData.FieldGetter[] getters(LogicalType[] types) {
        RowData.FieldGetter[] out = new RowData.FieldGetter[types.length];
        for (int i = 0; i < types.length; i++) {
            out[i] = RowData.createFieldGetter(types[i], i);
        }
        return out;
    }

    RowData assemble(RowData key, RowData value, ConsumerRecord<byte[], byte[]> record, SplitState state) {
        if (valueGetters == null) {
            keyGetters = getters(keyTypes);
            valueGetters = getters(valueTypes);
        }
        GenericRowData row = new GenericRowData(value.getRowKind(), physicalArity + metadata.length);
        if (key != null) {
            for (int i = 0; i < keyPositions.length; i++) {
                row.setField(keyPositions[i], keyGetters[i].getFieldOrNull(key));
            }
        }
        // Value fields are written last so that with value.fields-include=ALL the value wins.
        for (int i = 0; i < valuePositions.length; i++) {
            row.setField(valuePositions[i], valueGetters[i].getFieldOrNull(value));
        }
        for (int i = 0; i < metadata.length; i++) {
            row.setField(physicalArity + i, metadata[i].read(record, state));
        }
        return row;
    }
}
