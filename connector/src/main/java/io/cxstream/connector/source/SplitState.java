package io.cxstream.connector.source;

import org.apache.flink.table.data.StringData;

/** A split being read: the split plus the next offset to read, which is what gets checkpointed. */
final class SplitState {

    final PartitionSplit split;
    /** Reused for every row of the partition's 'topic' metadata column (StringData is immutable). */
    final StringData topic;
    long nextOffset;

    SplitState(PartitionSplit split) {
        this.split = split;
        this.topic = StringData.fromString(split.topic());
        this.nextOffset = split.startingOffset();
    }

    PartitionSplit toSplit() {
        return split.withStartingOffset(nextOffset);
    }
}
