/* An assembler function: its unit has line information but no
   DW_TAG_subprogram unless the assembler adds one. */
	.text
	.globl	asm_add3
	.type	asm_add3, @function
asm_add3:
	movl	%edi, %eax
	addl	%esi, %eax
	addl	%edx, %eax
	ret
	.size	asm_add3, .-asm_add3
	.section	.note.GNU-stack,"",@progbits
