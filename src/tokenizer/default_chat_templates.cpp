#include "tokenizer/default_chat_templates.h"

#include "tokenizer/tokenizer_files.h"

namespace llmtune::tokenizer {

namespace {

const char* kChatML =
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

const char* kLlama3 =
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
    "message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}";

// Llama 2 chat: the system prompt is folded into the first user turn inside <<SYS>>.
const char* kLlama2 =
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}"
    "{%- else %}{%- set system_message = false %}{%- set loop_messages = messages %}{%- endif %}"
    "{%- for message in loop_messages %}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif %}"
    "{%- if loop.index0 == 0 and system_message != false %}"
    "{%- set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{%- else %}{%- set content = message['content'] %}{%- endif %}"
    "{%- if message['role'] == 'user' %}{{- bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{%- elif message['role'] == 'assistant' %}{{- ' ' + content.strip() + ' ' + eos_token }}"
    "{%- endif %}"
    "{%- endfor %}";

const char* kPlain =
    "{%- for message in messages %}"
    "{{- message['role'] + ': ' + message['content'] + eos_token + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- 'assistant: ' }}{%- endif %}";

}  // namespace

std::string default_chat_template(const json& tj, const std::string& bos_token) {
    if (token_id(tj, "<|im_start|>") && token_id(tj, "<|im_end|>")) return kChatML;
    if (token_id(tj, "<|start_header_id|>") && token_id(tj, "<|eot_id|>")) return kLlama3;
    if (bos_token == "<s>") return kLlama2;
    return kPlain;
}

}  // namespace llmtune::tokenizer
