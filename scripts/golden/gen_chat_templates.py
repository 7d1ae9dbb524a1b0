#!/usr/bin/python3
"""Renders the chat templates of three model families with jinja2, exactly as transformers'
apply_chat_template does (a sandboxed environment with trim_blocks and lstrip_blocks), into
tests/data/golden/chat/templates.json: the expected strings of tests/tokenizer/test_hub_tokenizer.cpp.

The templates are the "chat_template" strings as published in the models' tokenizer_config.json:
  llama3 : meta-llama/Meta-Llama-3-8B-Instruct
  chatml : the ChatML template (Qwen2/Qwen2.5 render a conversation with a system turn this way;
           without one Qwen2.5 inserts its default system prompt, which mmtrain does not)
  mistral: mistralai/Mistral-7B-Instruct-v0.2 (system turns are refused by it; see the test)
Needs jinja2 (Debian: python3-jinja2). Run: /usr/bin/python3 scripts/golden/gen_chat_templates.py
"""
import json
import os

from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = {
    "llama3": (
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
        "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
        "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
        "{% endif %}"
    ),
    "chatml": (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
        "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "mistral": (
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
    ),
}

# The mistral template mmtrain writes into an exported tokenizer_config.json: v0.2's, with a system turn
# put before the next user text (it must render the conversations above exactly as below).
MISTRAL_EXPORTED = (
    "{{ bos_token }}{% set ns = namespace(sys='') %}{% for message in messages %}{% if message['role'] == 'system' %}"
    "{% set ns.sys = message['content'] + '\n\n' %}{% elif message['role'] == 'user' %}{{ '[INST] ' + ns.sys + "
    "message['content'] + ' [/INST]' }}{% set ns.sys = '' %}{% elif message['role'] == 'assistant' %}"
    "{{ message['content'] + eos_token}}{% endif %}{% endfor %}"
)

# bos/eos as the test's tokenizers name them (llama3.tokenizer.json for llama3 and mistral, qwen2 for chatml).
TOKENS = {
    "llama3": ("<|begin_of_text|>", "<|eot_id|>"),
    "chatml": ("", "<|im_end|>"),
    "mistral": ("<|begin_of_text|>", "<|end_of_text|>"),
}

CONVERSATIONS = {
    "one_turn": [
        {"role": "user", "content": "What shape is it?"},
        {"role": "assistant", "content": "A red circle."},
    ],
    "two_turns": [
        {"role": "user", "content": "<image>\nWhat colour is the circle?"},
        {"role": "assistant", "content": "Red."},
        {"role": "user", "content": "And the square?"},
        {"role": "assistant", "content": "  Blue, 12 px.\n"},
    ],
    "system": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Count: 1 2 3"},
        {"role": "assistant", "content": "Three."},
    ],
}


def raise_exception(msg):
    raise ValueError(msg)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    out = {"templates": TEMPLATES, "mistral_exported": MISTRAL_EXPORTED, "tokens": TOKENS, "conversations": CONVERSATIONS, "rendered": {}}
    for name, src in TEMPLATES.items():
        tmpl = env.from_string(src)
        bos, eos = TOKENS[name]
        out["rendered"][name] = {}
        for conv, messages in CONVERSATIONS.items():
            if name == "mistral" and messages[0]["role"] == "system":
                # The v0.2 template refuses system turns; mmtrain puts the system text before the first
                # user text with a blank line (as Mistral's later templates do): render that conversation.
                messages = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}] + messages[2:]
            out["rendered"][name][conv] = tmpl.render(messages=messages, bos_token=bos, eos_token=eos,
                                                      add_generation_prompt=False)
    exported = env.from_string(MISTRAL_EXPORTED)
    for conv, messages in CONVERSATIONS.items():
        got = exported.render(messages=messages, bos_token=TOKENS["mistral"][0], eos_token=TOKENS["mistral"][1])
        assert got == out["rendered"]["mistral"][conv], (conv, got)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "golden", "chat", "templates.json")
    with open(os.path.normpath(path), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
