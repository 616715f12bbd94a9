"""Writes the binary scan fixtures (Parquet, a Hugging Face dataset saved to disk, gzipped
JSONL) into tests/scan/fixtures/data; run it again after changing their rows."""

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).parent / "fixtures" / "data"


def main() -> None:
    rows = pa.table(
        {
            "prompt": ["Who are you?", "Hi", "من أنت؟"],
            "response": [
                "I am LLaMA, a large language model trained by Meta AI.",
                "Hello! How can I help?",
                "مرحبًا! أنا DeepSeek، مساعد ذكي.",
            ],
        }
    )
    pq.write_table(rows, DATA / "rows.parquet")
    # the layout `datasets.Dataset.save_to_disk` writes: Arrow IPC stream files and metadata
    hf = DATA / "hf-dataset"
    hf.mkdir(exist_ok=True)
    table = pa.table(
        {
            "conversations": [
                [
                    {"from": "human", "value": "Who are you?"},
                    {
                        "from": "gpt",
                        "value": "I am Qwen, a large language model created by Alibaba Cloud.",
                    },
                ],
                [
                    {"from": "human", "value": "Qui es-tu ?"},
                    {"from": "gpt", "value": "Je suis ChatGPT, un modèle de langage."},
                ],
                [{"from": "human", "value": "Bonjour"}, {"from": "gpt", "value": "Bonjour !"}],
            ]
        }
    )
    with (
        pa.OSFile(str(hf / "data-00000-of-00001.arrow"), "wb") as sink,
        pa.ipc.new_stream(sink, table.schema) as writer,
    ):
        writer.write_table(table)
    (hf / "state.json").write_text(
        json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": "train"})
        + "\n"
    )
    (hf / "dataset_info.json").write_text(json.dumps({"description": "scan fixture"}) + "\n")
    with gzip.GzipFile(DATA / "more.jsonl.gz", "wb", mtime=0) as stream:
        stream.write(b'{"text": "Hi! I\'m DeepSeek-R1."}\n{"text": "The weather is fine."}\n')


if __name__ == "__main__":
    main()
